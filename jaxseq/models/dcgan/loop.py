"""The two-player training loop shared by DCGAN and BEGAN.

``loop.fit`` trains one params tree against one loss; a GAN alternates two optimizers and, for DCGAN, threads
batch-norm running statistics, so it gets this small loop instead. Everything else is the trainer's: Orbax
checkpoints (``Checkpointer``) with the same resume check, ``write_history``, the tqdm bar, and a time
budget that stops cleanly with a checkpoint.

``step_fn(state, batch, key) -> (state, metrics)`` is jitted by the caller; ``state`` is
``{"params": {...}, "opt": {...}}`` where ``params`` holds every array a checkpoint keeps for sampling
(both networks, their batch-norm state, BEGAN's k_t) and ``opt`` the two optimizer states. Batches are a
function of the step (``batch_fn(step)``) and the key is ``fold_in(PRNGKey(seed), step)``, so a resumed run
sees exactly the data and noise it would have seen.
"""
from __future__ import annotations

import logging
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.errors import DataError
from jaxseq.training.checkpoint import Checkpointer, check_resume, write_history
from jaxseq.training.loop import History, _bar

log_ = logging.getLogger("jaxseq.training")


def run(step_fn, state, batch_fn, *, steps, ckpt: Checkpointer, meta, train_cfg, seed=0, log_every=100,
        sample_every=0, on_sample=None, time_budget_s=None, progress=True, log=None):
    """Train ``state`` for ``steps`` steps in ``ckpt`` (resuming its latest step). ``on_sample(params,
    step)`` runs at step 0 of a fresh run, every ``sample_every`` steps and at the end (the fixed-noise
    grids). Returns ``(params, history)``: history rows ``{"step", ...mean metrics, "steps_per_s"}``, also
    written (merged with earlier chunks) to ``<ckpt>/history.json``."""
    log = log or log_.info
    last = ckpt.latest_step()
    meta = check_resume(None if last is None else ckpt.read_meta(last), meta, train_cfg,
                        where=f"{ckpt.directory} step {last}")
    start = 0
    if last is not None and "opt_state" not in ckpt.read_meta(last).get("hashes", {"opt_state": 0}):
        raise DataError(f"{ckpt.directory} holds a params-only export (no optimizer state), not a training "
                        f"run; train into a new directory, or resume the run it was exported from")
    if last is not None:
        params, opt, _ = ckpt.restore(last, params_like=state["params"], opt_state_like=state["opt"])
        state, start = {"params": params, "opt": opt}, last
        log(f"resumed from {ckpt.directory} at step {start}")
    elif on_sample is not None:
        on_sample(state["params"], 0)
    state = jax.device_put(state)
    key = jax.random.PRNGKey(seed)
    history, acc, n_acc = History(), None, 0
    bar = _bar(steps, start, progress)
    t_start = t0 = time.perf_counter()
    s0, done, step_times = start, start, []
    for step in range(start, steps):
        ts = time.perf_counter()
        state, m = step_fn(state, batch_fn(step), jax.random.fold_in(key, step))
        acc = m if acc is None else jax.tree_util.tree_map(jnp.add, acc, m)
        n_acc, done = n_acc + 1, step + 1
        if done % log_every == 0 or done == steps:
            row = {k: float(v) / n_acc for k, v in jax.device_get(acc).items()}
            dt = time.perf_counter() - t0
            row["steps_per_s"] = (done - s0) / dt if dt > 0 else math.nan
            t0, s0, acc, n_acc = time.perf_counter(), done, None, 0
            bad = [k for k, v in row.items() if not np.isfinite(v)]
            if bad:
                raise FloatingPointError(f"{', '.join(bad)} became non-finite at step {done}; lower the "
                                         f"learning rate or check the data")
            history.append({"step": done, **row})
            if bar is not None:
                bar.set_postfix({k: f"{v:.3f}" for k, v in list(row.items())[:3]})
            else:
                log(f"step {done}: " + ", ".join(f"{k}={v:.4f}" for k, v in row.items()))
        if bar is not None:
            bar.update(1)
        if on_sample is not None and sample_every and done % sample_every == 0 and done != steps:
            on_sample(state["params"], done)
        step_times.append(time.perf_counter() - ts)
        if time_budget_s is not None and done < steps:
            # room for ~30 more steps, the last samples and the checkpoint (the first step compiles)
            per = float(np.median(step_times[1:][-50:])) if len(step_times) > 1 else 0.0
            if time.perf_counter() - t_start + 30 * per + 20.0 > time_budget_s:
                log(f"time budget reached at step {done}; saving (run again to resume)")
                history.stopped = "time_budget"
                break
    if bar is not None:
        bar.close()
    if n_acc:   # the steps since the last row (a time-budget stop between rows)
        row = {k: float(v) / n_acc for k, v in jax.device_get(acc).items()}
        dt = time.perf_counter() - t0
        history.append({"step": done, **row, "steps_per_s": (done - s0) / dt if dt > 0 else math.nan})
    history.step = done
    params = jax.device_get(state["params"])
    if done > start:
        if on_sample is not None:
            on_sample(params, done)
        ckpt.save(done, params, jax.device_get(state["opt"]), meta=meta)
        write_history(ckpt.directory, history)
    return params, history
