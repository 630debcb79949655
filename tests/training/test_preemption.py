"""Preemption: SIGTERM (the notice spot TPU VMs get) or a preempt_check hook makes fit save at the next
step boundary and return cleanly; running again resumes bit for bit. On one process, in-process and in
a subprocess that SIGTERMs itself; on a two-process jax.distributed CPU job where one process gets the
signal, both save the same step."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxseq.training import checkpoint
from jaxseq.training import loop as train
from training.helpers.jobs import cpu_env, run_job
from test_loop import assert_same_params, batch_fn, cfg, init, loss_fn, losses, one_device, quiet

WORKER = Path(__file__).parent / "helpers" / "preempt_worker.py"


def _reference():
    return train.fit(loss_fn, init(), batch_fn, cfg(steps=40, eval_every=0), mesh=one_device(),
                     log=quiet)


def test_hook_saves_the_step_it_stopped_at_and_resume_is_exact(tmp_path):
    ref, href = _reference()
    assert href.stopped is None and href.step == 40
    calls = []
    ck = checkpoint.Checkpointer(tmp_path / "ck", keep=2)
    msgs = []
    p, hist = train.fit(loss_fn, init(), batch_fn, cfg(steps=40, eval_every=0), ckpt=ck,
                        mesh=one_device(), log=msgs.append,
                        preempt_check=lambda: calls.append(1) or len(calls) >= 17)
    assert hist.stopped == "preempted" and hist.step == 17 and ck.all_steps() == [17]
    assert msgs[-1] == (f"preempted at step 17: checkpoint saved to {ck.directory}; "
                        f"run the same command to resume")
    resumed, hres = train.fit(loss_fn, init(seed=5), batch_fn, cfg(steps=40, eval_every=0), ckpt=ck,
                              mesh=one_device(), log=quiet)
    assert hres.stopped is None and ck.latest_step() == 40
    assert_same_params(ref, resumed)
    # the same data after resume (the row at step 20 averages fewer steps after a resume at 17)
    assert losses(hres)[1:] == [r for r in losses(href) if r[0] > 20]
    ck.close()


def test_sigterm_in_process_stops_and_restores_the_previous_handler(tmp_path):
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
    try:
        def killing(step):
            if step == 9:
                os.kill(os.getpid(), signal.SIGTERM)
            return batch_fn(step)
        ck = checkpoint.Checkpointer(tmp_path / "ck")
        _, hist = train.fit(loss_fn, init(), killing, cfg(steps=40, eval_every=0), ckpt=ck,
                            mesh=one_device(), log=quiet)
        assert hist.stopped == "preempted" and hist.step == 10 and ck.latest_step() == 10
        assert seen == []                       # fit's handler took the signal, not ours
        os.kill(os.getpid(), signal.SIGTERM)    # ours is back
        assert seen == [signal.SIGTERM]
        ck.close()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _result(out):
    return json.loads([l for l in out.splitlines() if l.startswith("RESULT")][-1].split(" ", 1)[1])


def _run(ck, out, kill_at):
    proc = subprocess.run([sys.executable, str(WORKER), str(ck), str(out), str(kill_at)],
                          env=cpu_env(1), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def _same_npz(a, b):
    a, b = np.load(a), np.load(b)
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_sigterm_subprocess_exits_cleanly_and_resumes_bitwise(tmp_path):
    out = _run(tmp_path / "ck", tmp_path / "stopped.npz", kill_at=37)   # the signal lands in step 37
    r = _result(out)
    assert r == {"process": 0, "stopped": "preempted", "step": 38, "latest": 38}
    assert f"preempted at step 38: checkpoint saved to {tmp_path / 'ck'}" in out
    assert _result(_run(tmp_path / "ck", tmp_path / "resumed.npz", -1))["latest"] == 120
    _run(tmp_path / "ref", tmp_path / "ref.npz", -1)
    _same_npz(tmp_path / "resumed.npz", tmp_path / "ref.npz")


def _job(ck, out, kill_at):
    """Two processes × two CPU devices, set up through maybe_initialize_distributed's env vars."""
    return run_job(lambda i, port: [sys.executable, str(WORKER), str(ck), str(out), str(kill_at)])


@pytest.mark.slow   # three two-process jobs: about a minute on a 2-core machine
@pytest.mark.skipif(jax.default_backend() != "cpu", reason="a jax.distributed job of CPU processes")
def test_two_processes_sigterm_to_one_both_save_the_same_step(tmp_path):
    outs = _job(tmp_path / "ck", tmp_path / "stopped.npz", kill_at=20)   # SIGTERM to process 1 only
    r = [_result(o) for o in outs]
    assert [x["process"] for x in r] == [0, 1]
    assert r[0]["stopped"] == r[1]["stopped"] == "preempted"
    step = r[0]["step"]
    assert r[1]["step"] == step and r[0]["latest"] == r[1]["latest"] == step
    assert 21 <= step < 120                 # after the signal, before the end
    assert f"preempted at step {step}: checkpoint saved to" in outs[0]
    resumed = [_result(o) for o in _job(tmp_path / "ck", tmp_path / "resumed.npz", kill_at=-1)]
    assert all(x["stopped"] is None and x["latest"] == 120 for x in resumed)
    _job(tmp_path / "ref", tmp_path / "ref.npz", kill_at=-1)
    _same_npz(tmp_path / "resumed.npz", tmp_path / "ref.npz")
