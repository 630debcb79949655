"""Orbax checkpoints that hold everything needed to resume or to sample, verified and crash-safe.

A checkpoint step has three items: ``params``, ``opt_state`` (optional) and ``meta`` (JSON: config,
vocabulary, data scale factors, step, metrics). Sampling restores ``params`` and ``meta`` alone, so it
needs neither the optimizer nor its structure. The manager keeps the last ``keep`` steps plus the best one
by a metric.

Reliability:

- every save records a SHA-256 of each array (dtype, shape and bytes) in ``meta["hashes"]``; every
  restore checks them and refuses a mismatch (:class:`DataError` naming the step and the array), so a
  corrupted file never loads silently. Checkpoints without hashes (older runs) load with a warning.
- a step directory without its metadata (a save or a prune killed half-way) is ignored, and removed by
  the next writer. Pruning renames a step out of the way (atomic) before deleting it.
- before a save on a local disk the free space is checked against the size of the last checkpoint; old
  steps are pruned first if that makes room, otherwise one :class:`DataError` says what is needed.
- directories may be ``gs://`` URIs (see :mod:`jaxseq.paths`); loading never creates a directory.
"""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import logging
import os
import shutil
import uuid

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxseq import paths
from jaxseq.errors import DataError

log = logging.getLogger("jaxseq.training")

_TRASH = ".deleting-"        # a pruned step is renamed to this prefix first: never a step name
_TMP = ".orbax-checkpoint-tmp"


def _to_host(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a), tree)


# ------------------------------------------------------------------------------------ content hashes
def _key_name(k):
    for attr in ("key", "idx", "name"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def array_hash(a) -> str:
    """``"<dtype>[<shape>]:<sha256 of dtype, shape and bytes>"`` of one array."""
    a = np.ascontiguousarray(np.asarray(a))
    head = f"{a.dtype.name}[{','.join(map(str, a.shape))}]"
    h = hashlib.sha256(head.encode())
    h.update(memoryview(a.reshape(-1).view(np.uint8)) if a.size else b"")
    return f"{head}:{h.hexdigest()}"


def tree_hashes(tree) -> dict:
    """``{"layers/0/wx": array_hash, ...}`` for every array leaf of ``tree``."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(_key_name(k) for k in path): array_hash(a) for path, a in leaves}


def verify_tree(tree, recorded, where, item="params"):
    """Raise a :class:`DataError` at the first array of ``tree`` whose hash differs from ``recorded``
    (arrays restored as another dtype or shape than saved, or not recorded, are not compared)."""
    for path, a in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(_key_name(k) for k in path)
        want = recorded.get(name)
        if want is None:
            continue
        got = array_hash(a)
        if got.split(":")[0] == want.split(":")[0] and got != want:
            prefix = "" if item == "params" else f"{item} "
            raise DataError(f"checkpoint {where}: array {prefix}{name} does not match its recorded hash; "
                            f"the file is corrupted: re-download or re-export it")


# ------------------------------------------------------------------------------------- file helpers
_NO_SPACE = ("No space left", "ENOSPC", "RESOURCE_EXHAUSTED")


def _fs_error(e) -> bool:
    """True when ``e`` (or an exception it was raised from) is 'no space left on device'."""
    while e is not None:
        text = str(e)
        if getattr(e, "errno", None) == errno.ENOSPC or any(t in text for t in _NO_SPACE):
            return True
        e = e.__cause__ or e.__context__
    return False


class _HeldLogs(logging.Filter):
    """Holds back Orbax's (absl's) error records while a save runs: a full disk makes its worker threads
    log a traceback each; they are dropped when the save turns into one clear DataError, and passed on
    otherwise."""

    def __init__(self):
        super().__init__()
        self.held = []

    def filter(self, record):
        if record.levelno >= logging.ERROR:
            self.held.append(record)
            return False
        return True

    def __enter__(self):
        logging.getLogger("absl").addFilter(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger("absl").removeFilter(self)

    def release(self):
        for r in self.held:
            logging.getLogger(r.name).handle(r)
        self.held = []


def _dir_size(path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def _rmtree(path):
    if paths.is_remote(path):
        path.rmtree(missing_ok=True) if hasattr(path, "rmtree") else None
    else:
        shutil.rmtree(path, ignore_errors=True)


class Checkpointer:
    """Steps of one run in ``directory`` (a local path or a ``gs://`` URI).

    ``create=False`` (loading): the directory must exist, nothing in it is changed, incomplete steps are
    only skipped. ``create=True`` (training, exporting): the directory is made if missing, and leftovers
    of killed saves or prunes are removed.
    """

    def __init__(self, directory, *, keep=3, best_metric=None, best_mode="min", create=True):
        self.directory = paths.absolute(directory)
        self.keep, self.best_metric, self.best_mode = keep, best_metric, best_mode
        self.writable = create
        if not create and not self.directory.is_dir():
            raise DataError(f"checkpoint directory {self.directory} does not exist")
        self._mngr = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                max_to_keep=None, create=create, enable_async_checkpointing=False))
        self._cleaned = False

    # -------------------------------------------------------------------------------- step listing
    def _complete(self, step_dir) -> bool:
        """A step directory holding everything a restore needs (a killed save or prune leaves less)."""
        if not ((step_dir / "meta" / "metadata").exists() and (step_dir / "params" / "_METADATA").exists()):
            return False
        # on a bucket Orbax writes in place and marks the end of a save with commit_success.txt
        return not paths.is_remote(step_dir) or (step_dir / "commit_success.txt").exists()

    def _scan(self):
        """``(complete steps, leftovers)``: leftovers are incomplete steps, temporary and trash dirs."""
        steps, junk = [], []
        if not self.directory.is_dir():
            return steps, junk
        for child in self.directory.iterdir():
            name = child.name
            if name.isdigit():
                if self._complete(child):
                    steps.append(int(name))
                else:
                    junk.append(child)
            elif name.startswith(_TRASH) or _TMP in name:
                junk.append(child)
        return sorted(steps), junk

    def _cleanup(self, quiet=False):
        """Remove incomplete steps and leftovers of killed saves/prunes (writers only, once)."""
        if self._cleaned or not self.writable:
            return
        self._cleaned = True
        _, junk = self._scan()
        for p in junk:
            if not quiet:
                log.warning("removing incomplete checkpoint %s (left by an interrupted save or prune)", p)
            self._remove(p)
        if junk:
            self._mngr.reload()

    def _remove(self, step_dir):
        """Delete a step crash-safely: an atomic rename out of the step namespace, then the delete."""
        trash = self.directory / f"{_TRASH}{step_dir.name}-{uuid.uuid4().hex[:8]}"
        try:
            step_dir.rename(trash)
        except (FileNotFoundError, OSError):
            if not step_dir.exists():
                return
            trash = step_dir
        _rmtree(trash)

    def latest_step(self):
        steps = self.all_steps()
        return steps[-1] if steps else None

    def all_steps(self):
        self._cleanup()
        return self._scan()[0]

    # ------------------------------------------------------------------------------------------ save
    def save(self, step, params, opt_state=None, meta=None, metrics=None):
        self._cleanup()
        meta = dict(meta or {})
        meta["step"] = int(step)
        if metrics is not None:
            meta["metrics"] = {k: float(v) for k, v in metrics.items()}
        if self.best_metric is not None:  # lets load_for_sampling find the best step later
            meta["checkpoint"] = {"best_metric": self.best_metric, "best_mode": self.best_mode}
        params = _to_host(params)
        meta["hashes"] = {"params": tree_hashes(params)}
        items = {"params": ocp.args.StandardSave(params)}
        nbytes = sum(a.nbytes for a in jax.tree_util.tree_leaves(params))
        if opt_state is not None:
            opt_state = _to_host(opt_state)
            meta["hashes"]["opt_state"] = tree_hashes(opt_state)
            items["opt_state"] = ocp.args.StandardSave(opt_state)
            nbytes += sum(np.asarray(a).nbytes for a in jax.tree_util.tree_leaves(opt_state))
        items["meta"] = ocp.args.JsonSave(meta)
        self._ensure_room(int(step), nbytes + len(json.dumps(meta)))
        if int(step) in self._mngr.all_steps():   # an older save of this step (e.g. an export's own)
            self._remove(self.directory / str(int(step)))
            self._mngr.reload()
        held = _HeldLogs()
        try:
            with held:
                self._mngr.save(int(step), args=ocp.args.Composite(**items), force=True)
                self._mngr.wait_until_finished()
        except Exception as e:  # noqa: BLE001 - a full disk arrives as many wrapped async errors
            if not _fs_error(e):
                held.release()
                raise
            self._cleaned = False
            self._cleanup(quiet=True)   # this save's own partial step
            need, free = self._space(int(step), nbytes)
            raise DataError(f"no space left to save checkpoint step {step} in {self.directory}: the disk "
                            f"filled up while writing it ({free:,} bytes free now, about {need:,} needed); "
                            f"free some space or use another checkpoint directory") from None
        held.release()
        self._prune()

    def _space(self, step, nbytes):
        """``(bytes needed, bytes free)`` for saving ``step``: the last checkpoint's size or the arrays'."""
        steps = [s for s in self.all_steps() if s != step]
        last = _dir_size(self.directory / str(steps[-1])) if steps else 0
        return int(max(last, nbytes) * 1.05) + (256 << 10), shutil.disk_usage(self.directory).free

    def _ensure_room(self, step, nbytes):
        if paths.is_remote(self.directory):
            return
        need, free = self._space(step, nbytes)
        if free >= need:
            return
        # the save would prune these afterwards anyway: make room first
        self._prune(room_for_one=True)
        need, free = self._space(step, nbytes)
        if free < need:
            raise DataError(f"not enough disk space to save checkpoint step {step} in {self.directory}: "
                            f"it needs about {need:,} bytes, {free:,} are free; free some space or use "
                            f"another checkpoint directory")
        log.warning("disk space short in %s: pruned old checkpoints before saving step %d",
                    self.directory, step)

    def _metric(self, step):
        try:
            m = self.read_meta(step).get("metrics", {})
        except (DataError, FileNotFoundError):  # a step being removed by another writer
            return None
        return m.get(self.best_metric)

    def best_step(self):
        if self.best_metric is None:
            return None
        scored = [(self._metric(s), s) for s in self.all_steps()]
        scored = [(v, s) for v, s in scored if v is not None and np.isfinite(v)]
        if not scored:
            return None
        pick = min if self.best_mode == "min" else max
        return pick(scored)[1]

    def _prune(self, room_for_one=False):
        """Keep the last ``keep`` steps and the best one (``room_for_one``: the last ``keep - 1``, before
        a save adds one)."""
        steps = self.all_steps()
        n = self.keep - 1 if room_for_one else self.keep
        keep = (set(steps[-n:]) if n > 0 else set()) if self.keep else set(steps)
        best = self.best_step()
        if best is not None:
            keep.add(best)
        gone = [s for s in steps if s not in keep]
        for s in gone:
            self._remove(self.directory / str(s))
        if gone:
            self._mngr.reload()

    # --------------------------------------------------------------------------------------- restore
    def read_meta(self, step=None):
        step = self.latest_step() if step is None else step
        if step is None:
            raise DataError(f"no checkpoint in {self.directory}")
        path = self.directory / str(step) / "meta" / "metadata"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise DataError(f"checkpoint {self.directory} step {step} has no metadata ({path}); it is "
                            f"incomplete: use another step or re-export it") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise DataError(f"checkpoint {self.directory} step {step}: metadata {path} is not valid JSON "
                            f"({e}); the file is corrupted: re-download or re-export it") from None

    def restore(self, step=None, *, params_like=None, opt_state_like=None):
        """Restore ``(params, opt_state or None, meta)`` at ``step`` (default: latest), after checking
        every array against the hashes recorded at save time.

        Without ``*_like`` targets the arrays come back as the saved tree of numpy arrays; with targets
        (e.g. fresh params) the tree structure of the target is used.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise DataError(f"no checkpoint in {self.directory}")
        where = f"{self.directory} step {step}"
        meta = self.read_meta(step)
        items = {"params": ocp.args.StandardRestore(params_like)}
        want_opt = opt_state_like is not None
        if want_opt:
            items["opt_state"] = ocp.args.StandardRestore(opt_state_like)
        try:
            out = self._mngr.restore(step, args=ocp.args.Composite(**items))
        except DataError:
            raise
        except Exception as e:  # noqa: BLE001 - Orbax/TensorStore errors of damaged files
            if not (self.directory / str(step)).exists():
                raise DataError(f"checkpoint {where} does not exist; steps: {self.all_steps()}") from None
            if params_like is not None and isinstance(e, (ValueError, KeyError)) and "shape" in str(e):
                first = str(e).splitlines()[0][:300]
                raise DataError(f"checkpoint {where} holds arrays of other shapes than this model "
                                f"({first}); use the checkpoint's own config") from None
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            raise DataError(f"checkpoint {where} cannot be read ({type(e).__name__}: {first}); the file "
                            f"is corrupted or incomplete: re-download or re-export it") from None
        hashes = meta.get("hashes")
        if not hashes:
            log.warning("checkpoint %s has no content hashes (saved by an older jaxseq): loading it "
                        "unverified", where)
        else:
            verify_tree(out["params"], hashes.get("params", {}), where)
            if want_opt:
                verify_tree(out["opt_state"], hashes.get("opt_state", {}), where, "opt_state")
        return out["params"], (out["opt_state"] if want_opt else None), meta

    def close(self):
        self._mngr.close()


def _existing(directory):
    directory = paths.as_path(directory)
    if not directory.is_dir():
        raise DataError(f"checkpoint directory {directory} does not exist")
    return directory


def load_for_sampling(directory, step=None, dtype="float32"):
    """``(params, meta)`` from a checkpoint directory (a training run or an export), best step if one is
    recorded, else latest. Floating params come back as ``dtype`` (exports may store float16/bfloat16)
    numpy arrays; ``dtype=None`` keeps the stored type. Arrays are checked against their recorded hashes.

    Every family's ``load()`` comes through here, so this also turns on the persistent compilation cache
    (:mod:`jaxseq.compile_cache`; ``JAXSEQ_COMPILE_CACHE=0`` switches it off): a second Python session
    that samples from the same checkpoint skips XLA compilation, as the scripts do.
    """
    from jaxseq import compile_cache
    compile_cache.enable()
    directory = _existing(directory)
    ck = Checkpointer(directory, create=False)
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
    src_ck = Checkpointer(_existing(src), best_metric=best_metric, create=False)
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
    if str(paths.absolute(dst)) != str(paths.absolute(src)) and paths.as_path(dst).is_dir():
        held = Checkpointer(dst, create=False)
        last = held.latest_step()
        held.close()
        if last is not None:
            raise DataError(f"{dst} already holds a checkpoint (step {last}); export to an empty directory")
    dst_ck = Checkpointer(dst, keep=1)
    try:
        dst_ck.save(step, cast_floats(params, dtype), None, meta=meta, metrics=meta.get("metrics"))
    finally:
        dst_ck.close()
    return int(step)


# ---------------------------------------------------------------------------------------- resuming
# Settings that may change between the chunks of one run (logged): the optimizer schedule, speed and
# regularisation knobs, evaluation and logging. Any other field of the stored config changes the model
# or the data and is refused.
RESUMABLE = frozenset({
    "steps", "lr", "schedule", "warmup", "decay_rate", "min_lr", "clip_norm", "weight_decay", "seed",
    "log_every", "eval_every", "ckpt_every", "keep", "progress", "batch_size", "unroll", "bf16",
    "compute_dtype", "enc_fused", "lr_decay", "clip", "samples", "sample_every", "eval_batches",
    "eval_sentences", "beam", "alpha", "dropout", "rec_dropout", "ss", "ss_k", "ss_c", "ss_min", "w_kl",
    "kl_min", "eta_min", "kl_decay", "augment", "drop_prob", "time_budget"})
# meta keys that are not part of a run's identity (bookkeeping, derived examples, training settings)
_NOT_IDENTITY = frozenset({"step", "metrics", "checkpoint", "hashes", "train_config", "primes", "examples",
                           "data_report", "init_from", "param_dtype", "test", "train"})
# optimizer fields whose change alters the optimizer state's structure (a restore cannot work)
_OPT_STRUCTURE = ("optimizer",)


def _short(v, n=60):
    if isinstance(v, (list, dict)) and len(json.dumps(v)) > n:
        return f"<{type(v).__name__} of {len(v)} items>"
    s = repr(v)
    return s if len(s) <= n else s[:n - 3] + "..."


def _same(a, b):
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):   # JSON stores tuples as lists
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        try:
            return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=0.0))
        except (TypeError, ValueError):
            return False
    return a == b


def _diffs(stored, requested, prefix=""):
    """``[(field, stored, requested)]`` for keys present in both (one level into dicts)."""
    out = []
    for k, v in requested.items():
        if k not in stored:
            continue
        s = stored[k]
        if isinstance(s, dict) and isinstance(v, dict) and prefix == "":
            out += _diffs(s, v, f"{k}.")
        elif not _same(s, v):
            out.append((prefix + k, s, v))
    return out


def check_resume(stored_meta, meta, train_cfg=None, *, where=""):
    """Compare a run's stored meta with what a resume asks for, and return the meta to save from now on
    (``meta`` plus ``train_config``: the training settings, so the next resume can compare them too).

    Refuses (:class:`DataError`, naming every field, stored vs requested) changes of the model config or
    of the data identity (``scale``, ``data``, vocabularies, split...). Allows the settings in
    :data:`RESUMABLE` (steps, learning rate, schedule, ...) with one logging line naming them.
    ``stored_meta`` None (a fresh run) only records the settings.
    """
    meta = dict(meta or {})
    tc = dataclasses.asdict(train_cfg) if dataclasses.is_dataclass(train_cfg) else dict(train_cfg or {})
    tc.pop("progress", None)
    if tc:
        meta["train_config"] = tc
    if not stored_meta:
        return meta
    refused, changed = [], []
    for field, s, r in _diffs(stored_meta.get("train_config", {}), tc, "train_config."):
        (refused if field.split(".")[-1] in _OPT_STRUCTURE else changed).append((field, s, r))
    identity = {k: v for k, v in meta.items() if k not in _NOT_IDENTITY}
    for field, s, r in _diffs({k: v for k, v in stored_meta.items() if k not in _NOT_IDENTITY}, identity):
        (changed if "." in field and field.split(".")[-1] in RESUMABLE else refused).append((field, s, r))
    for field, s, r in _diffs(stored_meta.get("train", {}) or {}, meta.get("train", {}) or {}, "train."):
        changed.append((field, s, r))
    where = where or "the checkpoint"
    if refused:
        raise DataError(f"cannot resume {where} with a different model or data: "
                        + "; ".join(f"{f} stored {_short(s)}, requested {_short(r)}" for f, s, r in refused)
                        + ". Use a new checkpoint directory, or the stored settings")
    seen, parts = set(), []
    for f, s, r in changed:
        name = f.split(".")[-1]
        if name not in seen:
            seen.add(name)
            parts.append(f"{name} {_short(s)} -> {_short(r)}")
    if parts:
        log.info("resuming %s with changed training settings: %s", where, ", ".join(parts))
    return meta


def write_history(directory, rows, name="history.json"):
    """Write ``rows`` (``{"step", ...}`` dicts from ``fit``) to ``directory/name``, merged with the rows
    already there: a resumed run keeps the rows from before the resume; a row of the same step and kind
    (same keys) is replaced. Written atomically. Returns the path."""
    directory = paths.as_path(directory)
    path = directory / name
    old = []
    if path.exists():
        try:
            old = json.loads(path.read_text())
            old = old if isinstance(old, list) else []
        except ValueError:
            log.warning("%s is not valid JSON; starting it afresh", path)
    kind = lambda r: (r.get("step"), tuple(sorted(r)))   # noqa: E731
    new_keys = {kind(r) for r in rows}
    merged = [r for r in old if isinstance(r, dict) and kind(r) not in new_keys] + list(rows)
    merged.sort(key=lambda r: r.get("step", 0))          # stable: earlier rows first within a step
    text = json.dumps(merged, indent=1)
    if paths.is_remote(directory):
        path.write_text(text)
        return path
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    tmp.write_text(text)
    os.replace(tmp, path)
    return path
