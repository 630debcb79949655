"""experiments/vae.py as a two-process jax.distributed CPU job (2 processes × 2 devices) gives the same
losses and test ELBO as one process with 4 devices: each process loads only its block of every global
batch (``batch_indices``) and the trainer builds the global batch from the blocks. The script file runs
for real (``runpy`` under a small launcher that joins the job from the JAX_* environment variables with
``maybe_initialize_distributed`` and records the rows each process feeds); it needs $JAXSEQ_DATA."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[2]
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


def _env(devices, **kw):
    env = {k: v for k, v in os.environ.items()
           if k not in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID", "JAXSEQ_DEBUG")}
    env.update(JAX_PLATFORMS="cpu", MPLBACKEND="Agg",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", **kw)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _launch(env, out, data_dir):
    return subprocess.Popen([sys.executable, "-c", LAUNCH, str(SCRIPT), "--data-dir", str(data_dir),
                             *TINY, "--out", str(out)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow   # three processes of the real script: about a minute on a 2-core machine
@pytest.mark.skipif(jax.default_backend() != "cpu", reason="a jax.distributed job of CPU processes")
def test_vae_two_processes_match_one_process(data_dir, tmp_path):
    port = _free_port()
    procs = [_launch(_env(2, JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2",
                          JAX_PROCESS_ID=str(i)), tmp_path / "two", data_dir) for i in range(2)]
    try:
        outs = [p.communicate(timeout=500)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    if any(p.returncode for p in procs):
        if any(re.search(r"gloo[^\n]*not (supported|available)|without gloo", o, re.I) for o in outs):
            pytest.skip("this jaxlib has no CPU (gloo) collectives")
        raise AssertionError("\n".join(o[-3000:] for o in outs))
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    single = _launch(_env(4), tmp_path / "one", data_dir)
    out = single.communicate(timeout=500)[0]
    assert single.returncode == 0, out[-3000:]
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    assert two["steps"] == one["steps"] == 31
    # each process loaded 32 rows of every 64-row global batch, which the trainer put together
    assert all("ROWS [(32, 64)]" in o for o in outs) and "ROWS [(64, 64)]" in out
    # the same global batches and key, a different reduction layout: equal to float32 rounding
    assert two["final_train_loss"] == pytest.approx(one["final_train_loss"], rel=1e-5)
    assert two["test_elbo"] == pytest.approx(one["test_elbo"], rel=1e-5)
    assert two["test_iw_nll"] == pytest.approx(one["test_iw_nll"], rel=1e-5)
