"""experiments/vae.py as a two-process jax.distributed CPU job (2 processes × 2 devices) gives the same
losses and test ELBO as one process with 4 devices: each process loads only its block of every global
batch (``batch_indices``) and the trainer builds the global batch from the blocks. The script file runs
for real (``runpy`` under a small launcher that joins the job from the JAX_* environment variables with
``maybe_initialize_distributed`` and records the rows each process feeds); it needs $JAXSEQ_DATA."""
from __future__ import annotations

import json
import subprocess
import sys

import jax
import pytest

from training.helpers.jobs import ROOT, cpu_env, run_job

SCRIPT = ROOT / "experiments" / "vae.py"
LAUNCH = """
import atexit, os, runpy, sys
from jaxseq.training import loop
loop.maybe_initialize_distributed()
rows, real = set(), loop.shard_batch
def shard_batch(batch, mesh):   # records the rows batch_fn gave this process and the global batch
    out = real(batch, mesh)
    rows.add((len(batch["x"]), out["x"].shape[0]))
    return out
loop.shard_batch = shard_batch
atexit.register(lambda: print("ROWS", sorted(rows), flush=True))
sys.path.insert(0, os.path.dirname(sys.argv[1]))
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
TINY = ["--data", "fashion-mnist", "--t10k-split", "0.5", "--epochs", "0.4", "--batch-size", "64",
        "--hidden", "32", "--z-dim", "2", "--iw-k", "100", "--eval-n", "200"]


def _argv(out, data_dir):
    return [sys.executable, "-c", LAUNCH, str(SCRIPT), "--data-dir", str(data_dir), *TINY,
            "--out", str(out)]


@pytest.mark.slow   # three processes of the real script: about a minute on a 2-core machine
@pytest.mark.skipif(jax.default_backend() != "cpu", reason="a jax.distributed job of CPU processes")
def test_vae_two_processes_match_one_process(data_dir, tmp_path):
    outs = run_job(lambda i, port: _argv(tmp_path / "two", data_dir), timeout=500)
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    single = subprocess.run(_argv(tmp_path / "one", data_dir), cwd=ROOT, env=cpu_env(4), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=500)
    out = single.stdout
    assert single.returncode == 0, out[-3000:]
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    assert two["steps"] == one["steps"] == 31
    # each process loaded 32 rows of every 64-row global batch, which the trainer put together
    assert all("ROWS [(32, 64)]" in o for o in outs) and "ROWS [(64, 64)]" in out
    # the same global batches and key, a different reduction layout: equal to float32 rounding
    assert two["final_train_loss"] == pytest.approx(one["final_train_loss"], rel=1e-5)
    assert two["test_elbo"] == pytest.approx(one["test_elbo"], rel=1e-5)
    assert two["test_iw_nll"] == pytest.approx(one["test_iw_nll"], rel=1e-5)
