"""A small trainer: one jitted step, data parallel over local devices, metrics averaged on device,
progress bar, periodic eval/sample hooks, Orbax checkpoints with resume, deterministic given a seed.

The model supplies ``loss_fn(params, batch, key, step) -> (loss, metrics)`` (metrics: dict of scalars;
``step`` is the optimizer step as a traced int32, for schedules such as KL annealing or the
teacher-forcing probability) and a ``batch_fn(step) -> batch`` (a pytree of arrays whose leading axis is
the batch). Because batches are a function of the step, a resumed run sees exactly the data it would have
seen. The library logs through :mod:`logging` (and a tqdm bar), never ``print``.

Several hosts (TPU pod slices): call :func:`maybe_initialize_distributed` first; each process's
``batch_fn`` returns only its share of the global batch (:func:`jaxseq.data.batching.batch_indices`
does this by itself), and :func:`is_main_process` guards files that only one host should write.
Preemption: ``fit`` turns SIGTERM (the notice spot TPU VMs get) or a ``preempt_check`` hook into a
checkpoint at the next step boundary on every host, at the same step; running again resumes.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import signal
import threading
import time
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxseq.data.batching import process_rows
from jaxseq.training.checkpoint import Checkpointer, check_resume
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
    optimizer: str = "adam"         # adam | adamw | rmsprop (Graves) | rmsprop_keras | sgd
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
            # Keras' RMSprop (rho 0.9, eps 1e-7, not centered): Graves' eps 1e-4 above dwarfs the
            # 1e-7..1e-5 gradients of a mean per-token loss and stalls such a model
            "rmsprop_keras": lambda: optax.rmsprop(sched, decay=0.9, eps=1e-7),
            "sgd": lambda: optax.sgd(sched, momentum=0.9)}
    if cfg.optimizer not in opts:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}: choose one of {sorted(opts)}")
    chain = [optax.clip_by_global_norm(cfg.clip_norm)] if cfg.clip_norm else []
    return optax.chain(*chain, opts[cfg.optimizer]())


# ---------------------------------------------------------------------------------- several hosts
def maybe_initialize_distributed(env=None) -> bool:
    """Join a multi-process JAX job when the environment asks for one; a no-op otherwise.

    Call it first, before anything touches a device. ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of
    process 0), ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` start an explicit job (any platform; CPU
    processes then use gloo collectives). ``JAXSEQ_DISTRIBUTED=1``, or ``TPU_WORKER_HOSTNAMES`` naming
    several hosts (GKE), lets JAX find its peers itself (on a Cloud TPU VM slice, from the TPU
    metadata). Returns whether this process is part of a job of several processes.
    """
    env = os.environ if env is None else env
    if jax.distributed.is_initialized():
        return jax.process_count() > 1
    n = env.get("JAX_NUM_PROCESSES")
    if n is not None and int(n) > 1:
        if "JAX_PROCESS_ID" not in env or "JAX_COORDINATOR_ADDRESS" not in env:
            raise ValueError(f"JAX_NUM_PROCESSES={n} needs JAX_PROCESS_ID and JAX_COORDINATOR_ADDRESS "
                             f"(host:port of process 0) in the environment too")
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU only; harmless elsewhere
        jax.distributed.initialize(env["JAX_COORDINATOR_ADDRESS"], num_processes=int(n),
                                   process_id=int(env["JAX_PROCESS_ID"]))
        return jax.process_count() > 1
    hosts = [h for h in env.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]
    if env.get("JAXSEQ_DISTRIBUTED", "0") not in ("", "0") or len(hosts) > 1:
        jax.distributed.initialize()  # coordinator, count and id from the cluster (TPU metadata, ...)
        return jax.process_count() > 1
    return False


def is_main_process() -> bool:
    """True on process 0 only: the one host that writes logs, plots and samples (checkpoint saves
    involve every process, as Orbax requires)."""
    return jax.process_index() == 0


class History(list):
    """``fit``'s list of history rows, plus why it stopped early: ``stopped`` is ``None`` (all
    ``cfg.steps`` done), ``"preempted"`` or ``"time_budget"``; ``step`` is the last step trained."""
    stopped: Optional[str] = None
    step: int = 0


def _preemption_service() -> bool:
    """Whether JAX's preemption sync manager runs (a multi-process job with the preemption service,
    on by default): it catches SIGTERM itself and agrees on one step for every host."""
    from jax._src import distributed  # no public accessor for the sync manager
    return getattr(distributed.global_state, "preemption_sync_manager", None) is not None


class _Preemption:
    """SIGTERM or ``check()`` -> stop at a step boundary; every process stops at the same step.

    One process: a Python SIGTERM handler sets a flag (the previous handler comes back on exit).
    Several: JAX's ``reached_preemption_sync_point`` (its own SIGTERM listener tells the coordinator,
    which picks the step) where the preemption service runs; the hook's flag, or the SIGTERM flag
    without that service, is OR-ed over processes with an all-gather at every step.
    """

    def __init__(self, check):
        self.check, self.flag, self._prev = check, False, None
        self.multi = jax.process_count() > 1
        self.sync = self.multi and _preemption_service()

    def __enter__(self):
        if not self.sync and threading.current_thread() is threading.main_thread():
            prev = signal.getsignal(signal.SIGTERM)
            if prev is not None:  # None: a handler installed outside Python, left alone
                self._prev = prev
                signal.signal(signal.SIGTERM, self._on_sigterm)
        return self

    def __exit__(self, *exc):
        if self._prev is not None:
            signal.signal(signal.SIGTERM, self._prev)
            self._prev = None

    def _on_sigterm(self, signum, frame):
        self.flag = True

    def __call__(self, step) -> bool:
        local = self.flag or bool(self.check is not None and self.check())
        if not self.multi:
            return local
        stop = bool(multihost_utils.reached_preemption_sync_point(step)) if self.sync else False
        if self.check is not None or not self.sync:
            stop = _any_process(local) or stop
        return stop


def _any_process(flag: bool) -> bool:
    """``flag`` OR-ed over all processes (an all-gather on several; the flag itself on one)."""
    if jax.process_count() == 1:
        return bool(flag)
    return bool(np.any(multihost_utils.process_allgather(np.asarray(flag, np.int32))))


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
    (``batch_indices`` gives each process a contiguous block of rows) and the global batch is their
    concatenation in process order.
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


def _process_rows(batch, mesh):
    """This process's contiguous block of a global batch, on the mesh; a batch whose rows do not
    split evenly over every device stays whole (each host then computes all of it)."""
    split = jax.process_count() * _local_device_count(mesh)
    leaves = jax.tree_util.tree_leaves(batch)
    if not leaves or any(np.ndim(x) == 0 or np.shape(x)[0] % split for x in leaves):
        return batch
    return shard_batch(jax.tree_util.tree_map(process_rows, batch), mesh)


def evaluate(eval_step, params, batches, key, mesh=None, step=0):
    """Mean of each metric over ``batches`` (an iterable), accumulated on device. ``step`` is handed to
    the loss (schedules evaluate at the training step being validated).

    On several processes every host passes the same global batches; each feeds only its own block of
    rows to the data mesh (``mesh`` or :func:`data_mesh`), so evaluation is split like training.
    """
    total, n = None, 0
    step = jnp.asarray(step, jnp.int32)
    multi = jax.process_count() > 1
    mesh = data_mesh() if multi and mesh is None else mesh
    for i, b in enumerate(batches):
        if multi:
            b = _process_rows(b, mesh)
        elif mesh is not None:
            b = shard_batch(b, mesh)
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
        time_budget_s: Optional[float] = None,
        preempt_check: Optional[Callable[[], bool]] = None):
    """Train for ``cfg.steps`` steps, resuming from ``ckpt``'s latest step if there is one.

    ``time_budget_s`` stops cleanly before that many seconds of wall clock (final eval and checkpoint
    included), so a long run can be done in chunks: call again with the same ``ckpt`` to resume.

    ``eval_fn(params, step) -> metrics`` and ``sample_fn(params, step)`` run every ``cfg.eval_every``
    steps and at the end; ``ckpt`` saves every ``cfg.ckpt_every`` steps and at the end (the best step by
    ``ckpt.best_metric`` among eval metrics is kept). Returns ``(params, history)`` where ``history`` is a
    list of ``{"step", ...metrics}`` rows (train rows and eval rows with ``val_`` prefixes); it is a
    :class:`History`, whose ``stopped`` says whether the run ended early.

    Preemption: a SIGTERM while ``fit`` runs (its handler is restored on return), or
    ``preempt_check()`` returning True, stops the loop after the current step: every process saves
    that same step to ``ckpt`` (no final eval or sample: a preempted VM has seconds left) and ``fit``
    returns with ``history.stopped == "preempted"``. Calling ``fit`` again with the same ``ckpt``
    resumes exactly.
    """
    logger = logging.getLogger("jaxseq.training")
    log = log or (logger.info if is_main_process() else logger.debug)
    mesh = mesh if mesh is not None else data_mesh()
    optimizer, train_step = _optimizer_and_step(loss_fn, cfg)
    opt_state = optimizer.init(params)
    start = 0
    if ckpt is not None:  # refuse a resume that changes the model or the data; record cfg in the meta
        last = ckpt.latest_step()
        meta = check_resume(None if last is None else ckpt.read_meta(last), meta, cfg,
                            where=f"{ckpt.directory} step {last}")
    if ckpt is not None and ckpt.latest_step() is not None:
        start = ckpt.latest_step()
        params, opt_state, _ = ckpt.restore(start, params_like=params, opt_state_like=opt_state)
        # to host: restored arrays sit committed on one local device, and moving those onto a mesh
        # that spans several hosts would be a cross-host transfer
        params, opt_state = jax.device_get((params, opt_state))
        log(f"resumed from {ckpt.directory} at step {start}")
    params, opt_state = replicate(params, mesh), replicate(opt_state, mesh)
    key = jax.random.PRNGKey(cfg.seed)
    history, acc, n_acc = History(), None, 0
    last_eval, saved = {}, None
    bar = _bar(cfg.steps, start, cfg.progress and is_main_process())
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
        nonlocal saved
        if ckpt is not None and saved != step:
            ckpt.save(step, params, opt_state, meta=meta, metrics=last_eval or None)
            saved = step

    with _Preemption(preempt_check) as preempted:
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
                    raise FloatingPointError(f"loss became {row['loss']} at step {done}; lower the "
                                             f"learning rate or check the data")
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
                over = time.perf_counter() - t_start + 30 * per + 30.0 > time_budget_s
                if _any_process(over):   # every host stops at the same step
                    log(f"time budget reached at step {done}; saving (run again to resume)")
                    history.stopped = "time_budget"
                    break
            if done < cfg.steps and preempted(done):
                history.stopped = "preempted"
                save(done)  # still under the handler: a second SIGTERM cannot cut the save short
                break
    if bar is not None:
        bar.close()
    history.step = done
    if history.stopped == "preempted":
        where = f"checkpoint saved to {ckpt.directory}" if ckpt else "no checkpointer, nothing saved"
        log(f"preempted at step {done}: {where}; run the same command to resume")
    elif done > start:
        run_eval(done)
        save(done)
    elif not history:  # nothing left to train (a finished run): evaluate, keep its checkpoint
        run_eval(done)
    return jax.device_get(params), history
