"""Worker for tests/test_multihost.py: one process of a jax.distributed CPU job (or a single process
when num_processes is 1), training a tiny LSTM with train.fit and printing its losses."""
import sys
pid, nproc, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
if nproc > 1:
    jax.distributed.initialize(f"localhost:{port}", num_processes=nproc, process_id=pid)
import numpy as np, jax.numpy as jnp
from jaxseq.nn import cells
from jaxseq.nn import scan as rnn
from jaxseq.training import loop as train
def loss_fn(params, batch, key, step):
    hs, _ = rnn.run(cells.LSTM, params["lstm"], batch["x"])
    err = ((hs @ params["out"] - batch["y"]) ** 2)
    return err.mean(), {}
def batch_fn_global(step):
    x = np.random.default_rng(step).uniform(-1, 1, (8, 10, 1)).astype(np.float32)
    return {"x": x, "y": x.cumsum(1) / 5}
def batch_fn(step):
    b = batch_fn_global(step)
    return {k: v[pid::nproc] for k, v in b.items()} if nproc > 1 else b  # each host feeds its own rows
k1, k2 = jax.random.split(jax.random.PRNGKey(0))
params = {"lstm": cells.LSTM.init(k1, 1, 8), "out": 0.1 * jax.random.normal(k2, (8, 1))}
p, hist = train.fit(loss_fn, params, batch_fn, train.TrainConfig(steps=20, lr=1e-2, log_every=5, progress=False), log=lambda s: None)
print("RESULT", pid, jax.device_count(), [round(h["loss"], 6) for h in hist if "loss" in h])
# evaluate(): every process passes the same global batches (16 rows) and feeds only its own block
full = [{k: np.concatenate([v, v[::-1]]) for k, v in batch_fn_global(100 + i).items()} for i in range(2)]
rows = sum(s.data.shape[0] for s in train._process_rows(full[0], train.data_mesh())["x"].addressable_shards)
ev = train.evaluate(train.make_eval_step(loss_fn), p, full, jax.random.PRNGKey(1))
print("EVAL", pid, rows, repr(ev["loss"]))
