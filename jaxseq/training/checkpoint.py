"""Orbax checkpoints that hold everything needed to resume or to sample.

A checkpoint step has three items: ``params``, ``opt_state`` (optional) and ``meta`` (JSON: config,
vocabulary, data scale factors, step, metrics). Sampling restores ``params`` and ``meta`` alone, so it
needs neither the optimizer nor its structure. The manager keeps the last ``keep`` steps plus the best one
by a metric.
"""
from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxseq.errors import DataError


def _to_host(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a), tree)


class Checkpointer:
    def __init__(self, directory, *, keep=3, best_metric=None, best_mode="min"):
        self.directory = Path(directory).expanduser().resolve()
        self.keep, self.best_metric, self.best_mode = keep, best_metric, best_mode
        self._mngr = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=None, create=True))

    # ------------------------------------------------------------------------------------------ save
    def save(self, step, params, opt_state=None, meta=None, metrics=None):
        meta = dict(meta or {})
        meta["step"] = int(step)
        if metrics is not None:
            meta["metrics"] = {k: float(v) for k, v in metrics.items()}
        if self.best_metric is not None:  # lets load_for_sampling find the best step later
            meta["checkpoint"] = {"best_metric": self.best_metric, "best_mode": self.best_mode}
        items = {"params": ocp.args.StandardSave(_to_host(params)),
                 "meta": ocp.args.JsonSave(meta)}
        if opt_state is not None:
            items["opt_state"] = ocp.args.StandardSave(_to_host(opt_state))
        self._mngr.save(int(step), args=ocp.args.Composite(**items), force=True)
        self._mngr.wait_until_finished()
        self._prune()

    def _metric(self, step):
        m = self.read_meta(step).get("metrics", {})
        return m.get(self.best_metric)

    def best_step(self):
        if self.best_metric is None:
            return None
        scored = [(self._metric(s), s) for s in self._mngr.all_steps()]
        scored = [(v, s) for v, s in scored if v is not None and np.isfinite(v)]
        if not scored:
            return None
        pick = min if self.best_mode == "min" else max
        return pick(scored)[1]

    def _prune(self):
        steps = sorted(self._mngr.all_steps())
        keep = set(steps[-self.keep:]) if self.keep else set(steps)
        best = self.best_step()
        if best is not None:
            keep.add(best)
        for s in steps:
            if s not in keep:
                self._mngr.delete(s)

    # --------------------------------------------------------------------------------------- restore
    def latest_step(self):
        return self._mngr.latest_step()

    def all_steps(self):
        return sorted(self._mngr.all_steps())

    def read_meta(self, step=None):
        step = self.latest_step() if step is None else step
        path = self.directory / str(step) / "meta" / "metadata"
        if path.exists():  # cheap path: read the JSON without touching arrays
            return json.loads(path.read_text())
        out = self._mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return dict(out["meta"])

    def restore(self, step=None, *, params_like=None, opt_state_like=None):
        """Restore ``(params, opt_state or None, meta)`` at ``step`` (default: latest).

        Without ``*_like`` targets the arrays come back as the saved tree of numpy arrays; with targets
        (e.g. fresh params) the tree structure of the target is used.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise DataError(f"no checkpoint in {self.directory}")
        items = {"params": ocp.args.StandardRestore(params_like), "meta": ocp.args.JsonRestore()}
        want_opt = opt_state_like is not None
        if want_opt:
            items["opt_state"] = ocp.args.StandardRestore(opt_state_like)
        out = self._mngr.restore(step, args=ocp.args.Composite(**items))
        return out["params"], (out["opt_state"] if want_opt else None), dict(out["meta"])

    def close(self):
        self._mngr.close()


def _existing(directory) -> Path:
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise DataError(f"checkpoint directory {directory} does not exist")
    return directory


def load_for_sampling(directory, step=None, dtype="float32"):
    """``(params, meta)`` from a checkpoint directory (a training run or an export), best step if one is
    recorded, else latest. Floating params come back as ``dtype`` (exports may store float16/bfloat16)
    numpy arrays; ``dtype=None`` keeps the stored type."""
    directory = _existing(directory)
    ck = Checkpointer(directory)
    try:
        if ck.latest_step() is None:
            raise DataError(f"no checkpoint in {directory}")
        if step is None:
            info = ck.read_meta().get("checkpoint", {})
            ck.best_metric, ck.best_mode = info.get("best_metric"), info.get("best_mode", "min")
            best = ck.best_step()
            step = ck.latest_step() if best is None else best
        params, _, meta = ck.restore(step)
    finally:
        ck.close()
    if dtype is not None:
        params = cast_floats(params, dtype)
    return params, meta


def cast_floats(tree, dtype):
    """Floating leaves of a host tree as numpy ``dtype`` (integers untouched)."""
    import ml_dtypes  # a dependency of jax: numpy bfloat16
    dt = np.dtype(ml_dtypes.bfloat16) if str(dtype) == "bfloat16" else np.dtype(dtype)

    def cast(a):
        a = np.asarray(a)
        return a.astype(dt) if np.issubdtype(a.dtype, np.floating) or a.dtype.name == "bfloat16" else a
    return jax.tree_util.tree_map(cast, tree)


def export(src, dst, *, step=None, pick="latest", dtype="float32", best_metric=None, best_mode=None):
    """Copy the params and meta of one step of the run in ``src`` to a params-only checkpoint in ``dst``
    (what sampling needs; no optimizer state). ``step`` wins over ``pick`` (``latest`` or ``best`` by
    ``best_metric``; ``best_mode`` "min" or "max", default: as the run recorded it, else "min").
    Returns the exported step."""
    src_ck = Checkpointer(_existing(src), best_metric=best_metric)
    try:
        if src_ck.latest_step() is not None:
            info = src_ck.read_meta().get("checkpoint", {})
            src_ck.best_metric = best_metric or info.get("best_metric")
            src_ck.best_mode = best_mode or info.get("best_mode", "min")
        steps = src_ck.all_steps()
        if not steps:
            raise DataError(f"no checkpoint in {src}: train first")
        if step is not None:
            if step not in steps:
                raise DataError(f"step {step} is not in {src}; it holds steps {steps}")
        elif pick == "best":
            step = src_ck.best_step()
            if step is None:
                raise DataError(f"no step in {src} has a {src_ck.best_metric} metric; export the latest "
                                f"step")
        elif pick == "latest":
            step = src_ck.latest_step()
        else:
            raise ValueError(f"pick must be 'latest' or 'best', got {pick!r}")
        params, _, meta = src_ck.restore(step)
    finally:
        src_ck.close()
    dst_ck = Checkpointer(dst, keep=1)
    try:
        if dst_ck.latest_step() is not None and Path(dst).resolve() != Path(src).resolve():
            raise DataError(f"{dst} already holds a checkpoint (step {dst_ck.latest_step()}); "
                            f"export to an empty directory")
        dst_ck.save(step, cast_floats(params, dtype), None, meta=meta, metrics=meta.get("metrics"))
    finally:
        dst_ck.close()
    return int(step)
