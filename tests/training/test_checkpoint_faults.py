"""SIGKILL a training subprocess during a save, during pruning and between saves (issue 10): each time the
rerun resumes to params bitwise equal to an uninterrupted run, and every later save and prune works.

The kills are deterministic: the subprocess patches one function (selected by ``JAXSEQ_TEST_KILL``) to
``os.kill(os.getpid(), SIGKILL)`` at a precise point, so no timing race decides what is on disk.
"""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

DRIVER = textwrap.dedent('''
    import os, signal, sys
    import numpy as np
    import jax, jax.numpy as jnp
    import orbax.checkpoint._src.path.atomicity as atomicity
    from orbax.checkpoint import JsonCheckpointHandler
    from jaxseq.training import checkpoint, loop

    ckpt_dir, out, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kill = os.environ.get("JAXSEQ_TEST_KILL", "")
    saves = {"n": 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if kill == "save_write":          # arrays written, meta being written: a half-written temporary step
        orig_json = JsonCheckpointHandler.async_save
        async def json_save(self, *a, **k):
            saves["n"] += 1
            if saves["n"] == 2:
                die()
            return await orig_json(self, *a, **k)
        JsonCheckpointHandler.async_save = json_save
    elif kill == "save_commit":       # everything written, the atomic rename not done
        orig_fin = atomicity.AtomicRenameTemporaryPath.finalize
        def finalize(self, *a, **k):
            saves["n"] += 1
            if saves["n"] == 2:
                die()
            return orig_fin(self, *a, **k)
        atomicity.AtomicRenameTemporaryPath.finalize = finalize
    elif kill == "prune":             # a pruned step half deleted (its meta gone, arrays still there)
        orig_rm = checkpoint._rmtree
        def rmtree(path):
            os.remove(os.path.join(path, "meta", "metadata"))
            die()
        checkpoint._rmtree = rmtree

    def loss_fn(p, batch, key, step):
        h = jnp.tanh(batch["x"] @ p["w1"] + p["b1"])
        loss = jnp.mean((h @ p["out"] - batch["y"]) ** 2)
        return loss, {"mse": loss}

    def batch_fn(step):
        if kill == "between" and step == 5:
            die()
        r = np.random.default_rng(step)
        return {"x": r.normal(size=(8, 3)).astype(np.float32), "y": r.normal(size=(8, 1)).astype(np.float32)}

    def eval_fn(params, step):
        return {"loss": float(loss_fn(params, batch_fn(1000), None, 0)[0])}

    r = np.random.default_rng(0)
    params = {"w1": r.normal(size=(3, 4)).astype(np.float32), "b1": np.zeros(4, np.float32),
              "out": np.ones((4, 1), np.float32)}
    cfg = loop.TrainConfig(steps=steps, lr=1e-2, ckpt_every=2, eval_every=2, keep=2, log_every=2,
                           progress=False)
    ck = checkpoint.Checkpointer(ckpt_dir, keep=2, best_metric="val_loss")
    params, _ = loop.fit(loss_fn, params, batch_fn, cfg, eval_fn=eval_fn, ckpt=ck, meta={"config": {"h": 4}})
    assert ck.all_steps()[-1] == steps, ck.all_steps()
    ck.close()
    np.savez(out, **{k: np.asarray(v) for k, v in params.items()})
''')

STEPS = 10


def run(tmp, name, kill="", steps=STEPS):
    env = dict(os.environ, JAXSEQ_TEST_KILL=kill, JAX_PLATFORMS="cpu")
    out = tmp / f"{name}.npz"
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(tmp / name), str(out), str(steps)],
                          capture_output=True, text=True, env=env, timeout=300)
    return proc, out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    proc, out = run(tmp, "ref")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(np.load(out))


@pytest.mark.slow
@pytest.mark.parametrize("kill", ["save_write", "save_commit", "prune", "between"])
def test_killed_run_resumes_bitwise(kill, reference, tmp_path):
    proc, _ = run(tmp_path, "run", kill)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-3000:])
    if kill == "prune":   # the half-deleted step is on disk (renamed out of the step names)
        assert any(p.name.startswith(".deleting-") for p in (tmp_path / "run").iterdir())
    # the rerun resumes, saves and prunes several more times, and ends where the uninterrupted run did
    proc, out = run(tmp_path, "run")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    got = dict(np.load(out))
    for k in reference:
        np.testing.assert_array_equal(got[k], reference[k])
        assert got[k].dtype == reference[k].dtype
    left = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert [n for n in left if n.isdigit()] and not [n for n in left if n.startswith(".deleting-")
                                                   or "tmp" in n], left
    # and a later chunk (more steps) saves and prunes again
    proc, _ = run(tmp_path, "run", steps=STEPS + 2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert str(STEPS + 2) in os.listdir(tmp_path / "run")


def test_incomplete_prune_leftover_does_not_break_saves(tmp_path):
    """The fast in-process version of the 'killed during prune' state: a step dir without meta/metadata."""
    from jaxseq.training import checkpoint
    p = {"w": np.ones((2, 2), np.float32)}
    ck = checkpoint.Checkpointer(tmp_path / "ck", keep=2, best_metric="val_loss")
    for s in (1, 2, 3):
        ck.save(s, p, metrics={"val_loss": float(s)})
    ck.close()
    os.remove(tmp_path / "ck" / "3" / "meta" / "metadata")           # as a killed delete leaves it
    reader = checkpoint.Checkpointer(tmp_path / "ck", create=False)
    assert reader.all_steps() == [1, 2] and (tmp_path / "ck" / "3").exists()   # readers change nothing
    reader.close()
    ck = checkpoint.Checkpointer(tmp_path / "ck", keep=2, best_metric="val_loss")
    assert ck.best_step() == 1
    ck.save(4, p, metrics={"val_loss": 4.0})
    assert ck.all_steps() == [1, 2, 4] and not (tmp_path / "ck" / "3").exists()
    ck.close()
    assert Path(tmp_path / "ck").is_dir()
