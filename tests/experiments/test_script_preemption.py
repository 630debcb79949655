"""A preempted training script (``fit``'s ``preempt_check`` says yes at once, as after a SIGTERM) saves
its step, exits 0, says it was preempted (not "time budget") and skips the post-training work: no test
decoding, scoring, plots or summaries, only the history rows. The scripts run for real under a small
launcher that hands every ``fit`` call that hook."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from experiments.toy_data import play_cache, sketch_npz
from training.helpers.jobs import ROOT

EXP = ROOT / "experiments"
LAUNCH = """
import os, runpy, sys
from jaxseq.training import loop
real = loop.fit
loop.fit = lambda *a, **kw: real(*a, **{**kw, "preempt_check": lambda: True})
sys.path.insert(0, os.path.dirname(sys.argv[1]))
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def preempted(script, *args):
    env = {**os.environ, "MPLBACKEND": "Agg", "JAX_PLATFORMS": "cpu"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", LAUNCH, str(EXP / script), *map(str, args)], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "preempted at step 1: checkpoint saved" in r.stderr, r.stderr[-3000:]
    assert "time budget" not in r.stdout + r.stderr
    return r


@pytest.mark.slow   # the same preemption path runs by default through scheduled_sampling.py and vae.py
def test_sketch_rnn(tmp_path):
    run = tmp_path / "run"
    r = preempted("sketch_rnn.py", "train", "--data", sketch_npz(tmp_path / "toy.npz"), "--max-len", "16",
                  "--steps", "50", "--enc-size", "8", "--dec-size", "16", "--z-size", "4", "--n-mix", "3",
                  "--batch-size", "4", "--no-progress", "--ckpt-dir", run)
    assert (run / "1").is_dir() and (run / "history.json").is_file() and "train speed" not in r.stdout


@pytest.mark.slow   # as above: the mechanism is shared (loop.fit), the two cheaper scripts stay default
def test_handwriting(tmp_path):
    run = tmp_path / "run"
    r = preempted("handwriting.py", "train", "--synthetic", "40", "--batch-size", "8", "--max-len", "40",
                  "--hidden", "8", "--layers", "1", "--n-mix", "2", "--n-gauss", "2", "--min-char-count", "1",
                  "--unroll", "1", "--no-progress", "--compile-cache", "", "--steps", "50", "--ckpt-dir", run)
    assert (run / "1").is_dir() and (run / "history.json").is_file() and "stopped at step" not in r.stdout


def test_scheduled_sampling(tmp_path):
    out = tmp_path / "out"
    preempted("scheduled_sampling.py", "--data", play_cache(tmp_path / "small.npz"), "--steps", "50",
              "--eval-every", "25", "--hidden", "8", "--embed", "4", "--seq-len", "20", "--batch-size", "4",
              "--n-samples", "2", "--sample-len", "10", "--out", out)
    # the first run (tf) stopped and saved; the ss run and the summary wait for the same command again
    assert (out / "ckpt_tf" / "1").is_dir() and not (out / "ckpt_ss").exists()
    assert not (out / "results.json").exists()


def test_vae(data_dir, tmp_path):
    r = preempted("vae.py", "--data-dir", data_dir, "--data", "fashion-mnist", "--t10k-split", "0.5",
                  "--hidden", "16", "--z-dim", "2", "--out", tmp_path)
    assert "stopped at step 1 of" in r.stdout and "(preempted)" in r.stdout
    assert (tmp_path / "ckpt" / "1").is_dir() and not (tmp_path / "results.json").exists()


@pytest.mark.slow   # the data is prepared first (~10 s)
def test_nmt_luong(data_dir, tmp_path):
    r = preempted("nmt_luong.py", "--data-dir", data_dir, "--steps", "50", "--hidden", "16", "--emb", "8",
                  "--batch-size", "8", "--no-bidirectional", "--out", tmp_path / "run",
                  "--export", tmp_path / "export")
    assert "stopped early at step 1 (preempted)" in r.stdout
    assert (tmp_path / "run" / "history.json").is_file()
    assert not (tmp_path / "run" / "test_results.json").exists() and not (tmp_path / "export").exists()
