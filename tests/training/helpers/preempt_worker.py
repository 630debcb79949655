"""Worker for tests/training/test_preemption.py: one process of a training run (alone, or one of a
jax.distributed CPU job set up from JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID) that
trains a tiny LSTM with a checkpointer and, when asked, sends SIGTERM to itself inside ``batch_fn``.

usage: preempt_worker.py CKPT_DIR OUT_NPZ KILL_AT   (KILL_AT < 0: never; only process 0 writes OUT_NPZ)
"""
import json
import logging
import os
import signal
import sys
import time

from jaxseq.training import loop as train

ckpt_dir, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
multi = train.maybe_initialize_distributed()
import jax  # noqa: E402  (after joining the job)
import numpy as np  # noqa: E402

from jaxseq.data.batching import batch_indices  # noqa: E402
from jaxseq.nn import cells  # noqa: E402
from jaxseq.nn import scan as rnn  # noqa: E402
from jaxseq.training.checkpoint import Checkpointer  # noqa: E402

logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(message)s", force=True)
logging.getLogger("jaxseq").setLevel(logging.INFO)
X = np.random.default_rng(0).uniform(-1, 1, (64, 10, 1)).astype(np.float32)


def loss_fn(params, batch, key, step):
    hs, _ = rnn.run(cells.LSTM, params["lstm"], batch["x"])
    return ((hs @ params["out"] - batch["y"]) ** 2).mean(), {}


def batch_fn(step):
    if step == kill_at and jax.process_index() == jax.process_count() - 1:
        os.kill(os.getpid(), signal.SIGTERM)   # the notice a spot VM gets, to the last process only
    if multi:
        time.sleep(0.03)   # the other host learns of the notice through the coordinator
    x = X[batch_indices(step, len(X), 8, seed=1)]   # this process's rows only
    assert len(x) == 8 // jax.process_count()
    return {"x": x, "y": x.cumsum(1) / 5}


k1, k2 = jax.random.split(jax.random.PRNGKey(0))
params = {"lstm": cells.LSTM.init(k1, 1, 8), "out": 0.1 * jax.random.normal(k2, (8, 1))}
ck = Checkpointer(ckpt_dir, keep=2)
cfg = train.TrainConfig(steps=int(os.environ.get("STEPS", "120")), lr=1e-2, log_every=10,
                        progress=False)
p, hist = train.fit(loss_fn, params, batch_fn, cfg, ckpt=ck)
latest = ck.latest_step()
ck.close()
if train.is_main_process():
    np.savez(out, *[np.asarray(a) for a in jax.tree_util.tree_leaves(p)])
print("RESULT", json.dumps({"process": jax.process_index(), "stopped": hist.stopped,
                            "step": hist.step, "latest": latest}), flush=True)
