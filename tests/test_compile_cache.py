"""The persistent compilation cache: where it lives, how it is switched off, and that a script uses it."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = "import jax; from jaxseq import compile_cache; print(compile_cache.enable()); " \
        "print(jax.config.jax_compilation_cache_dir)"


def _probe(env):
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split("\n")
    return out[0], out[1]


def test_folder_from_env_default_and_off(tmp_path):
    base = dict(os.environ)
    base.pop("JAXSEQ_COMPILE_CACHE", None)
    got, cfg = _probe(dict(base, JAXSEQ_COMPILE_CACHE=str(tmp_path / "x")))
    assert got == cfg == str(tmp_path / "x") and (tmp_path / "x").is_dir()
    got, cfg = _probe(dict(base, XDG_CACHE_HOME=str(tmp_path / "xdg")))
    assert got == str(tmp_path / "xdg" / "jaxseq" / "xla")
    got, cfg = _probe(dict(base, JAXSEQ_COMPILE_CACHE="0"))
    assert got == "None" and cfg in ("None", "")


def test_a_script_fills_the_cache_and_reuses_it(tmp_path):
    cache = tmp_path / "xla"
    env = dict(os.environ, JAXSEQ_COMPILE_CACHE=str(cache))
    cmd = [sys.executable, str(ROOT / "experiments" / "handwriting.py"), "generate", "--text", "hi",
           "--max-steps", "40", "--out", str(tmp_path / "a.svg")]
    subprocess.run(cmd, env=env, capture_output=True, timeout=300, check=True)
    entries = sorted(p.name for p in cache.iterdir())
    assert entries, "the first run wrote no compiled programs"
    subprocess.run(cmd, env=env, capture_output=True, timeout=300, check=True)
    assert sorted(p.name for p in cache.iterdir()) == entries   # the second run compiled nothing new


def test_a_family_load_turns_the_cache_on(tmp_path):
    """The Python API (not only the scripts) uses the cache: any ``load()`` reads through
    ``checkpoint.load_for_sampling``, which enables it."""
    env = dict(os.environ, JAXSEQ_COMPILE_CACHE=str(tmp_path / "api"))
    code = ("import jax; from jaxseq import sketch_rnn; sketch_rnn.load('sheep'); "
            "print(jax.config.jax_compilation_cache_dir)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip().splitlines()[-1]
    assert out == str(tmp_path / "api")
