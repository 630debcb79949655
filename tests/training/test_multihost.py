"""Multi-host data parallelism: two jax.distributed CPU processes with two devices each train exactly
like one process with four devices (the global batch is the concatenation of each host's rows)."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from training.helpers.jobs import cpu_env, run_job

WORKER = Path(__file__).parent / "helpers" / "multihost_worker.py"


def _losses(out):
    line = [l for l in out.splitlines() if l.startswith("RESULT")][0]
    return ast.literal_eval(line.split(" ", 3)[3])


def test_two_processes_match_one_process():
    outs = run_job(lambda i, port: [sys.executable, str(WORKER), str(i), "2", str(port)])
    single = subprocess.run([sys.executable, str(WORKER), "0", "1", "0"], env=cpu_env(4),
                            capture_output=True, text=True, timeout=240)
    assert single.returncode == 0, single.stderr[-2000:]
    assert "RESULT 0 4 " in outs[0] and "RESULT 1 4 " in outs[1]   # 4 global devices each
    assert _losses(outs[0]) == _losses(outs[1])                    # every host sees the same loss
    assert _losses(outs[0]) == pytest.approx(_losses(single.stdout), abs=1e-5)
    # evaluate(): each of the two processes fed 8 of the 16 rows; one process fed all 16
    evals = [_eval(o) for o in outs]
    assert [e[:2] for e in evals] == [(0, 8), (1, 8)] and _eval(single.stdout)[:2] == (0, 16)
    assert evals[0][2] == evals[1][2] == pytest.approx(_eval(single.stdout)[2], rel=1e-6)


def _eval(out):
    pid, rows, loss = [l for l in out.splitlines() if l.startswith("EVAL")][0].split()[1:]
    return int(pid), int(rows), float(loss)


def test_batch_indices_blocks_make_the_global_batch():
    import numpy as np
    from jaxseq.data.batching import batch_indices
    for step in (0, 5, 11):                     # across epoch boundaries too
        whole = batch_indices(step, 50, 12, seed=3, shard=(0, 1))
        blocks = [batch_indices(step, 50, 12, seed=3, shard=(i, 4)) for i in range(4)]
        assert all(len(b) == 3 for b in blocks)
        np.testing.assert_array_equal(np.concatenate(blocks), whole)
    # no shard given: this test runs as one process, which gets the whole batch
    np.testing.assert_array_equal(batch_indices(2, 50, 12, seed=3),
                                  batch_indices(2, 50, 12, seed=3, shard=(0, 1)))
    with pytest.raises(ValueError, match="batch size 10 does not split evenly over 4 processes"):
        batch_indices(0, 50, 10, shard=(1, 4))


def test_process_rows_takes_the_same_block():
    import numpy as np
    from jaxseq.data.batching import process_rows
    b = {"x": np.arange(24).reshape(12, 2), "y": (np.arange(12), np.arange(12) * 2)}
    parts = [process_rows(b, shard=(i, 3)) for i in range(3)]
    np.testing.assert_array_equal(np.concatenate([p["x"] for p in parts]), b["x"])
    np.testing.assert_array_equal(parts[1]["y"][1], [8, 10, 12, 14])
    assert process_rows(b) is b                                   # one process: unchanged
    with pytest.raises(ValueError, match="12 rows does not split evenly over 5 processes"):
        process_rows(b, shard=(0, 5))


def test_maybe_initialize_distributed_reads_the_environment(monkeypatch):
    import jax
    from jaxseq.training import loop
    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda *a, **k: calls.append((a, k)))
    monkeypatch.setattr(jax.config, "update", lambda *a: None)   # keep this process's CPU client as is
    assert loop.maybe_initialize_distributed({}) is False and calls == []           # one process
    assert loop.maybe_initialize_distributed({"JAX_NUM_PROCESSES": "1"}) is False and calls == []
    with pytest.raises(ValueError, match="JAX_NUM_PROCESSES=2 needs JAX_PROCESS_ID"):
        loop.maybe_initialize_distributed({"JAX_NUM_PROCESSES": "2"})
    loop.maybe_initialize_distributed({"JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1",
                                       "JAX_COORDINATOR_ADDRESS": "10.0.0.2:1234"})
    assert calls[-1] == (("10.0.0.2:1234",), {"num_processes": 2, "process_id": 1})
    loop.maybe_initialize_distributed({"JAXSEQ_DISTRIBUTED": "1"})                  # a TPU VM slice
    loop.maybe_initialize_distributed({"TPU_WORKER_HOSTNAMES": "w-0,w-1"})          # GKE
    assert calls[1:] == [((), {}), ((), {})]
