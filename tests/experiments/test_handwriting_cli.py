"""``python experiments/handwriting.py`` through its real entry point: a tiny synthesis run on synthetic
lines, generate from it and from the shipped checkpoint (outside the checkout), export, user errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxseq.training.checkpoint import load_for_sampling

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "handwriting.py"
TINY = ["--synthetic", "40", "--batch-size", "8", "--max-len", "40", "--hidden", "8", "--layers", "2",
        "--n-mix", "2", "--n-gauss", "2", "--min-char-count", "1", "--unroll", "1", "--no-progress",
        "--samples", "0", "--compile-cache", "", "--eval-batches", "1", "--warmup", "0"]


def cli(*args, cwd=None, expect=0):
    env = dict(os.environ, MPLBACKEND="Agg", JAX_PLATFORMS="cpu")
    env.pop("JAXSEQ_DEBUG", None)
    r = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                       cwd=cwd or ROOT, env=env, timeout=600)
    assert r.returncode == expect, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def assert_user_error(r, *words):
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in errors[0], errors[0]


def test_train_generate_export(tmp_path):
    run, ship = tmp_path / "run", tmp_path / "ship"
    cli("train", *TINY, "--steps", "2", "--eval-every", "0", "--scheduled-sampling", "linear",
        "--ckpt-dir", run)
    hist = json.loads((run / "history.json").read_text())
    assert (run / "2").is_dir() and hist[-1]["step"] == 2 and np.isfinite(hist[-1]["val_nll_point"])
    out = tmp_path / "a.svg"
    cli("generate", "--ckpt", run, "--text", "abc", "--n", "2", "--max-steps", "20", "--out", out)
    assert "<path" in out.read_text()
    # a text longer than a line is word-wrapped into several lines, all written, in order; unknown
    # characters are one clean warning line
    text = " ".join(f"{w}{i}" for i in range(300) for w in ("abc", "de"))[:2000]
    r = cli("generate", "--ckpt", run, "--text", text, "--max-steps", "8", "--out", out)
    k = int(r.stderr.split("wrapped into ")[1].split()[0])
    svg = out.read_text()
    assert k > 1 and svg.count("<g id=") == k and f"{text.split()[-1]}</title>" in svg
    said = " ".join(t.split("</title>")[0] for t in svg.split("<title>")[1:])
    assert said == text                                            # nothing cut, nothing reordered
    warn = [ln for ln in r.stderr.splitlines() if "not in the model's charset" in ln]
    assert len(warn) == 1 and warn[0].startswith("warning: not in the model's charset"), r.stderr
    assert "UserWarning" not in r.stderr and "warnings.warn" not in r.stderr
    cli("export", "--ckpt", run, "--out", ship, "--dtype", "float16")
    params, meta = load_for_sampling(ship, dtype=None)
    assert meta["step"] == 2 and params["out"]["w"].dtype == np.float16 and meta["charset"]


def test_generate_from_shipped_checkpoint_anywhere(tmp_path):
    out = tmp_path / "tmp.svg"
    r = cli("generate", "--text", "hi", "--out", out, cwd=tmp_path)   # the shipped net, found from any folder
    assert out.exists() and "<path" in out.read_text() and "sampled 1 lines" in r.stdout


def test_user_errors(tmp_path):
    assert_user_error(cli("train", *TINY, "--steps", "0", expect=2), "--steps 0")


@pytest.mark.slow   # run by default in tests/test_bad_inputs.py: hw_ckpt_missing, hw_cache_garbage
def test_missing_checkpoint_and_bad_cache(tmp_path):
    assert_user_error(cli("generate", "--ckpt", "/nonexistent", "--text", "x", "--out", tmp_path / "x.svg",
                          expect=2), "/nonexistent", "does not exist")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a cache")
    assert_user_error(cli("eval", "--cache", bad, expect=2), str(bad), "not a valid IAM-OnDB cache")
