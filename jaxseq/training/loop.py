"""A small trainer: one jitted step, data parallel over local devices, metrics averaged on device,
progress bar, periodic eval/sample hooks, Orbax checkpoints with resume, deterministic given a seed.

The model supplies ``loss_fn(params, batch, key, step) -> (loss, metrics)`` (metrics: dict of scalars;
``step`` is the optimizer step as a traced int32, for schedules such as KL annealing or the
teacher-forcing probability) and a ``batch_fn(step) -> batch`` (a pytree of arrays whose leading axis is
the batch). Because batches are a function of the step, a resumed run sees exactly the data it would have
seen. The library logs through :mod:`logging` (and a tqdm bar), never ``print``.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.schedules import make_schedule


@dataclasses.dataclass
class TrainConfig:
    steps: int = 1000
    lr: float = 1e-3
    schedule: str = "constant"      # constant | cosine | exponential
    warmup: int = 0
    decay_rate: float = 0.1         # exponential: lr * decay_rate ** (step / steps)
    min_lr: float = 0.0             # floor of the schedule
    clip_norm: float = 1.0          # global-norm gradient clipping (0 disables)
    optimizer: str = "adam"         # adam | adamw | rmsprop | sgd
    weight_decay: float = 0.0
    seed: int = 0
    log_every: int = 50
    eval_every: int = 0             # 0: never
    ckpt_every: int = 0             # 0: only at the end
    keep: int = 3
    progress: bool = True


def make_optimizer(cfg: TrainConfig):
    sched = make_schedule(cfg)
    opts = {"adam": lambda: optax.adam(sched),
            "adamw": lambda: optax.adamw(sched, weight_decay=cfg.weight_decay),
            "rmsprop": lambda: optax.rmsprop(sched, decay=0.95, eps=1e-4, centered=True),
            "sgd": lambda: optax.sgd(sched, momentum=0.9)}
    if cfg.optimizer not in opts:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}: choose one of {sorted(opts)}")
    chain = [optax.clip_by_global_norm(cfg.clip_norm)] if cfg.clip_norm else []
    return optax.chain(*chain, opts[cfg.optimizer]())


# ------------------------------------------------------------------------------- data parallelism
def data_mesh(devices=None) -> Mesh:
    """A 1-D ``data`` mesh over all devices of all processes (after ``jax.distributed.initialize()`` on
    several hosts, ``jax.devices()`` spans them all)."""
    devices = np.asarray(devices if devices is not None else jax.devices())
    return Mesh(devices, ("data",))


def _local_device_count(mesh: Mesh) -> int:
    me = jax.process_index()
    return sum(d.process_index == me for d in mesh.devices.flat)


def shard_batch(batch, mesh: Mesh):
    """Place a batch with its leading axis split over the mesh's ``data`` axis.

    On one process ``batch`` is the whole batch. On several hosts each process passes its own share
    (e.g. the rows ``jax.process_index()::jax.process_count()`` of the global batch) and the global batch
    is their concatenation in process order.
    """
    n = _local_device_count(mesh)
    sharding = NamedSharding(mesh, P("data"))
    multi = jax.process_count() > 1

    def put(x):
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[0] % n:
            raise ValueError(f"batch axis {x.shape[:1]} must divide evenly over {n} local devices")
        if multi:
            return jax.make_array_from_process_local_data(sharding, x)
        return jax.device_put(x, sharding)
    return jax.tree_util.tree_map(put, batch)


def replicate(tree, mesh: Mesh):
    # A fresh copy: the train step donates its params, which must not delete the caller's arrays.
    return jax.device_put(tree, NamedSharding(mesh, P()), may_alias=False)


# optax.global_norm is deprecated in favour of optax.tree.norm (newer optax); accept either
_global_norm = getattr(getattr(optax, "tree", None), "norm", None) or optax.global_norm


def make_train_step(loss_fn, optimizer):
    """``train_step(params, opt_state, batch, key, step) -> (params, opt_state, metrics)``, jitted.

    Under a data mesh the loss is a mean over the whole (sharded) batch, so XLA inserts the gradient
    all-reduce; metrics include ``loss`` and the pre-clipping ``grad_norm``.
    """
    def train_step(params, opt_state, batch, key, step):
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch, key, step)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        metrics = dict(metrics, loss=loss, grad_norm=_global_norm(grads))
        return params, opt_state, metrics
    return jax.jit(train_step, donate_argnums=(0, 1))


def make_eval_step(loss_fn):
    """``eval_step(params, batch, key, step) -> metrics`` (with ``loss``), jitted."""
    def eval_step(params, batch, key, step):
        loss, metrics = loss_fn(params, batch, key, step)
        return dict(metrics, loss=loss)
    return jax.jit(eval_step)


def evaluate(eval_step, params, batches, key, mesh=None, step=0):
    """Mean of each metric over ``batches`` (an iterable), accumulated on device. ``step`` is handed to
    the loss (schedules evaluate at the training step being validated)."""
    total, n = None, 0
    step = jnp.asarray(step, jnp.int32)
    for i, b in enumerate(batches):
        b = shard_batch(b, mesh) if mesh is not None else b
        m = eval_step(params, b, jax.random.fold_in(key, i), step)
        total = m if total is None else jax.tree_util.tree_map(jnp.add, total, m)
        n += 1
    if n == 0:
        return {}
    return {k: float(v) / n for k, v in jax.device_get(total).items()}


_OPT_FIELDS = ("steps", "lr", "schedule", "warmup", "decay_rate", "min_lr", "clip_norm", "optimizer",
               "weight_decay")


@functools.lru_cache(maxsize=16)
def _cached_step(loss_fn, opt_key):
    optimizer = make_optimizer(TrainConfig(**dict(zip(_OPT_FIELDS, opt_key))))
    return optimizer, make_train_step(loss_fn, optimizer)


def _optimizer_and_step(loss_fn, cfg):
    """Reuse the jitted step (and its compilation) when ``fit`` runs again with the same loss and
    optimizer settings: sweeps, notebooks and resumed runs in one process compile once."""
    try:
        return _cached_step(loss_fn, tuple(getattr(cfg, f) for f in _OPT_FIELDS))
    except TypeError:  # an unhashable loss_fn: build afresh
        optimizer = make_optimizer(cfg)
        return optimizer, make_train_step(loss_fn, optimizer)


def _bar(total, initial, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are a convenience, never a hard requirement
        return None
    return tqdm(total=total, initial=initial, dynamic_ncols=True, smoothing=0.1)


def fit(loss_fn: Callable, params, batch_fn: Callable[[int], Any], cfg: TrainConfig, *,
        eval_fn: Optional[Callable[[Any, int], dict]] = None,
        sample_fn: Optional[Callable[[Any, int], None]] = None,
        ckpt: Optional[Checkpointer] = None, meta: Optional[dict] = None,
        mesh: Optional[Mesh] = None, log: Optional[Callable[[str], None]] = None,
        time_budget_s: Optional[float] = None):
    """Train for ``cfg.steps`` steps, resuming from ``ckpt``'s latest step if there is one.

    ``time_budget_s`` stops cleanly before that many seconds of wall clock (final eval and checkpoint
    included), so a long run can be done in chunks: call again with the same ``ckpt`` to resume.

    ``eval_fn(params, step) -> metrics`` and ``sample_fn(params, step)`` run every ``cfg.eval_every``
    steps and at the end; ``ckpt`` saves every ``cfg.ckpt_every`` steps and at the end (the best step by
    ``ckpt.best_metric`` among eval metrics is kept). Returns ``(params, history)`` where ``history`` is a
    list of ``{"step", ...metrics}`` rows (train rows and eval rows with ``val_`` prefixes).
    """
    log = log or logging.getLogger("jaxseq.training").info
    mesh = mesh if mesh is not None else data_mesh()
    optimizer, train_step = _optimizer_and_step(loss_fn, cfg)
    opt_state = optimizer.init(params)
    start = 0
    if ckpt is not None and ckpt.latest_step() is not None:
        start = ckpt.latest_step()
        params, opt_state, _ = ckpt.restore(start, params_like=params, opt_state_like=opt_state)
        log(f"resumed from {ckpt.directory} at step {start}")
    params, opt_state = replicate(params, mesh), replicate(opt_state, mesh)
    key = jax.random.PRNGKey(cfg.seed)
    history, acc, n_acc = [], None, 0
    last_eval = {}
    bar = _bar(cfg.steps, start, cfg.progress)
    t0, s0 = time.perf_counter(), start
    t_start, step_times, done = t0, [], start

    def run_eval(step):
        nonlocal last_eval
        if eval_fn is not None:
            last_eval = {f"val_{k}": v for k, v in eval_fn(params, step).items()}
            history.append({"step": step, **last_eval})
            log(f"step {step}: " + ", ".join(f"{k}={v:.4f}" for k, v in last_eval.items()))
        if sample_fn is not None:
            sample_fn(params, step)

    def save(step):
        if ckpt is not None:
            ckpt.save(step, params, opt_state, meta=meta, metrics=last_eval or None)

    for step in range(start, cfg.steps):
        ts = time.perf_counter()
        batch = shard_batch(batch_fn(step), mesh)
        params, opt_state, m = train_step(params, opt_state, batch, jax.random.fold_in(key, step),
                                          jnp.asarray(step, jnp.int32))
        acc = m if acc is None else jax.tree_util.tree_map(jnp.add, acc, m)
        n_acc += 1
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            row = {k: float(v) / n_acc for k, v in jax.device_get(acc).items()}
            dt = time.perf_counter() - t0
            row["steps_per_s"] = (done - s0) / dt if dt > 0 else math.nan
            t0, s0, acc, n_acc = time.perf_counter(), done, None, 0
            if not np.isfinite(row["loss"]):
                raise FloatingPointError(f"loss became {row['loss']} at step {done}; lower the learning "
                                         f"rate or check the data")
            history.append({"step": done, **row})
            if bar is not None:
                bar.set_postfix(loss=f"{row['loss']:.4f}", it_s=f"{row['steps_per_s']:.1f}")
            else:
                log(f"step {done}: loss={row['loss']:.4f} ({row['steps_per_s']:.1f} steps/s)")
        if bar is not None:
            bar.update(1)
        if cfg.eval_every and done % cfg.eval_every == 0 and done != cfg.steps:
            run_eval(done)
        if cfg.ckpt_every and done % cfg.ckpt_every == 0 and done != cfg.steps:
            save(done)
        step_times.append(time.perf_counter() - ts)
        if time_budget_s is not None and done < cfg.steps:
            # room for ~30 more steps, a final eval and the checkpoint; the first step of a chunk
            # includes compiling, so it is not counted as a step time
            per = float(np.median(step_times[1:][-50:])) if len(step_times) > 1 else 0.0
            if time.perf_counter() - t_start + 30 * per + 30.0 > time_budget_s:
                log(f"time budget reached at step {done}; saving (run again to resume)")
                break
    if bar is not None:
        bar.close()
    if done > start:
        run_eval(done)
        save(done)
    elif not history:  # nothing left to train (a finished run): evaluate, keep its checkpoint
        run_eval(done)
    return jax.device_get(params), history
