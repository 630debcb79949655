"""A ``gs://`` run folder survives every experiment script's path handling unchanged, with no network:
each script runs for real under a small launcher that stands in a stub ``gcsfs`` (so the support
check passes) and stops the run at the first checkpoint directory or result file it hands on, printing
that path. Without gcsfs a ``gs://`` path is one ``error:`` line naming the path and the package (exit
2). The family loaders keep a ``gs://`` URI too (``load_init_params`` reads with ``create=False``)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.toy_data import play_cache, sketch_npz
from jaxseq import paths

ROOT = Path(__file__).resolve().parents[1]
EXP = ROOT / "experiments"
# stops at the first Checkpointer (every family's training or export) or result file, printing its path
LAUNCH = """
import os, runpy, sys
from jaxseq.data import files
from jaxseq.training import checkpoint
def stop(what, path):
    print(what, type(path).__module__, str(path), flush=True)
    raise SystemExit(0)
checkpoint.Checkpointer.__init__ = lambda self, directory, **kw: stop("CKPT", directory)
files.write_atomic = lambda path, data: stop("WRITE", path)
sys.path.insert(0, os.path.dirname(sys.argv[1]))
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
URI = "gs://jaxseq-test-bucket/run"


@pytest.fixture(scope="module")
def stub_gcsfs(tmp_path_factory):
    """A folder holding an empty ``gcsfs`` package: enough for ``paths.check_support``, no network."""
    d = tmp_path_factory.mktemp("stub")
    (d / "gcsfs").mkdir()
    (d / "gcsfs" / "__init__.py").write_text("")
    return d


def launch(args, stub=None, cwd=None):
    env = {**os.environ, "MPLBACKEND": "Agg", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([str(stub)] * bool(stub) + [str(ROOT)])}
    env.pop("JAXSEQ_DEBUG", None)
    argv = [sys.executable, "-c", LAUNCH] if stub else [sys.executable]
    return subprocess.run(argv + [str(a) for a in args], cwd=cwd or ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def handed_on(r):
    """The ``(kind, type module, path)`` the launcher stopped at."""
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    line = [ln for ln in r.stdout.splitlines() if ln.startswith(("CKPT ", "WRITE "))]
    assert line, r.stdout[-2000:] + r.stderr[-3000:]
    return tuple(line[0].split(" ", 2))


def assert_uri(r, want, kind="CKPT"):
    got = handed_on(r)
    assert got[0] == kind and got[2] == want, got
    assert not got[1].startswith("pathlib"), got   # an etils.epath path, not a squashed local one


@pytest.fixture(scope="module")
def toy_sketches(tmp_path_factory):
    return sketch_npz(tmp_path_factory.mktemp("sk") / "toy.npz")


def test_handwriting_ckpt_dir(stub_gcsfs):
    r = launch([EXP / "handwriting.py", "train", "--synthetic", "40", "--batch-size", "8", "--max-len", "40",
                "--min-char-count", "1", "--compile-cache", "", "--ckpt-dir", URI], stub_gcsfs)
    assert_uri(r, URI)


def test_sketch_rnn_ckpt_dir(stub_gcsfs, toy_sketches):
    r = launch([EXP / "sketch_rnn.py", "train", "--data", toy_sketches, "--max-len", "16", "--batch-size",
                "4", "--ckpt-dir", URI], stub_gcsfs)
    assert_uri(r, URI)


def test_mdn_toy_out(stub_gcsfs):
    r = launch([EXP / "mdn_toy.py", "--n-train", "40", "--n-test", "40", "--hidden", "4", "--n-mix", "2",
                "--steps", "2", "--out", URI], stub_gcsfs)
    assert_uri(r, URI + "/results.json", "WRITE")


def test_scheduled_sampling_out(stub_gcsfs, tmp_path):
    cache = play_cache(tmp_path / "small.npz", 300)
    r = launch([EXP / "scheduled_sampling.py", "--data", cache, "--mode", "tf", "--steps", "2", "--hidden",
                "8", "--embed", "4", "--seq-len", "20", "--batch-size", "4", "--out", URI], stub_gcsfs)
    assert_uri(r, URI + "/ckpt_tf")


def test_vae_out(stub_gcsfs, data_dir):
    r = launch([EXP / "vae.py", "--data-dir", data_dir, "--data", "fashion-mnist", "--t10k-split", "0.5",
                "--out", URI], stub_gcsfs)
    assert_uri(r, URI + "/ckpt")


@pytest.mark.slow   # ~9 s: the data and the model are built before the checkpoint folder is opened
def test_nmt_out_and_export(stub_gcsfs, data_dir):
    r = launch([EXP / "nmt_luong.py", "--data-dir", data_dir, "--steps", "2", "--hidden", "8", "--emb", "4",
                "--out", URI, "--export", URI + "_export"], stub_gcsfs)
    assert_uri(r, URI)


@pytest.mark.parametrize("args", [
    ["vae.py", "--out", URI],
    ["mdn_toy.py", "--out", URI],
    ["sketch_rnn.py", "train", "--ckpt-dir", URI],
    ["handwriting.py", "train", "--synthetic", "40", "--ckpt-dir", URI],
    ["nmt_luong.py", "--out", URI],
    ["scheduled_sampling.py", "--out", URI],
], ids=lambda a: a[0])
def test_gs_without_gcsfs_is_one_error(args, tmp_path):
    try:
        import gcsfs  # noqa: F401
        pytest.skip("gcsfs is installed here")
    except ImportError:
        pass
    r = launch([EXP / args[0], *args[1:]], cwd=tmp_path)
    said = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert r.returncode == 2 and len(said) == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert URI in said[0] and "pip install gcsfs" in said[0], said
    assert not list(tmp_path.iterdir())   # nothing written (no local 'gs:' folder)


def test_load_init_params_reads_a_bucket(monkeypatch):
    from etils import epath

    from jaxseq.models.handwriting import training
    monkeypatch.setattr(paths, "check_support", lambda p: None)   # as if gcsfs were installed
    monkeypatch.setattr(type(epath.Path(URI)), "is_dir", lambda self: True)
    seen = {}

    class Stop(Exception):
        pass

    def fake_init(self, directory, **kw):
        seen.update(directory=directory, **kw)
        raise Stop
    monkeypatch.setattr(training.Checkpointer, "__init__", fake_init)
    with pytest.raises(Stop):
        training.load_init_params(URI)
    assert str(seen["directory"]) == URI and seen["create"] is False


@pytest.mark.parametrize("family", ["handwriting", "sketch_rnn", "nmt"])
def test_loaders_keep_the_uri(family, monkeypatch):
    """``resolve_checkpoint`` / ``resolve`` of each family hands a gs:// folder on as the URI."""
    from etils import epath
    monkeypatch.setattr(paths, "check_support", lambda p: None)
    monkeypatch.setattr(type(epath.Path(URI)), "is_dir", lambda self: True)
    if family == "handwriting":
        from jaxseq.models.handwriting.api import resolve_checkpoint as resolve
    elif family == "sketch_rnn":
        from jaxseq.models.sketch_rnn.api import resolve_checkpoint as resolve
    else:
        from jaxseq.models.nmt.translate import resolve
    got = resolve(URI)
    assert str(got) == URI and not isinstance(got, type(Path()))
