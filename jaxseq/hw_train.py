"""Training plumbing for the handwriting networks: static-shape batches of lines with their text, a
wall-clock-bounded resumable training loop, validation NLL, and the style-priming lines kept in a
checkpoint.

Lines are stroke-3 arrays ``[T_i, 3]`` (dx, dy, eos) already normalised (``jaxseq.iam``) with their
texts. Every batch has the same shapes (``max_len`` points, ``text_len`` characters), so the train step
compiles once.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq import train
from jaxseq.charset import Charset, encode_batch
from jaxseq.checkpoint import Checkpointer
from jaxseq.data import batch_indices


def fit_lines(lines_strokes, texts, max_len, *, synthesis):
    """Indices of the lines the model trains on: synthesis keeps whole lines of at most ``max_len`` points
    (a cut line would no longer match its text); prediction keeps everything (long lines are cropped)."""
    lengths = np.array([len(s) for s in lines_strokes])
    keep = lengths >= 2
    if synthesis:
        keep &= (lengths <= max_len) & np.array([len(t) > 0 for t in texts])
    return np.nonzero(keep)[0]


def make_batch(strokes, texts, idx, max_len, charset: Optional[Charset], text_len, rng=None):
    """Batch dict: strokes [B, max_len, 3], mask [B, max_len] and, with a charset, text [B, text_len]
    (-1 padded) and text_mask. Lines longer than ``max_len`` are cropped at a random (``rng``) or zero
    offset (prediction only; synthesis lines were filtered by :func:`fit_lines`)."""
    B = len(idx)
    out = np.zeros((B, max_len, 3), np.float32)
    mask = np.zeros((B, max_len), np.float32)
    for j, i in enumerate(idx):
        s = np.asarray(strokes[i], np.float32)
        if len(s) > max_len:
            off = int(rng.integers(0, len(s) - max_len + 1)) if rng is not None else 0
            s = s[off:off + max_len]
        out[j, :len(s)] = s
        mask[j, :len(s)] = 1.0
    batch = {"strokes": out, "mask": mask}
    if charset is not None:
        import warnings
        with warnings.catch_warnings():  # rare training characters are the unknown symbol on purpose
            warnings.simplefilter("ignore")
            batch["text"], batch["text_mask"] = encode_batch(charset, [texts[i] for i in idx], text_len)
    return batch


def batch_fn_for(strokes, texts, pool, batch_size, max_len, charset, text_len, seed, extra=None):
    """``batch_fn(step)`` over the line indices ``pool`` (deterministic in ``step``: resumable)."""
    def fn(step):
        sel = pool[batch_indices(step, len(pool), batch_size, seed)]
        b = make_batch(strokes, texts, sel, max_len, charset, text_len,
                       rng=np.random.default_rng([seed, step]))
        if extra is not None:
            b.update(extra(step, batch_size))
        return b
    return fn


def eval_batches(strokes, texts, pool, batch_size, max_len, charset, text_len, max_batches=None):
    """Fixed validation batches (the last partial batch is dropped to keep shapes static)."""
    n = len(pool) // batch_size
    if max_batches:
        n = min(n, max_batches)
    return [make_batch(strokes, texts, pool[k * batch_size:(k + 1) * batch_size], max_len, charset,
                       text_len) for k in range(n)]


def priming_lines(strokes, texts, writers, pool, n=8, max_points=350, min_points=80, decimals=3):
    """Up to ``n`` short real lines (different writers when possible) as JSON-able dicts for the
    checkpoint meta, so ``--style`` works without the data set."""
    order = sorted(pool, key=lambda i: len(strokes[i]))
    out, seen, used = [], set(), set()
    for lo, hi in ((min_points, max_points), (2, max_points)):   # relax if too few lines qualify
        for i in order:
            L = len(strokes[i])
            w = writers[i] if writers is not None else i
            if len(out) == n or i in used or w in seen or not lo <= L <= hi or not texts[i].strip():
                continue
            seen.add(w)
            used.add(i)
            out.append({"text": texts[i], "writer": str(w),
                        "strokes": np.round(np.asarray(strokes[i], np.float64), decimals).tolist()})
    return out


def fit_timed(loss_fn: Callable, params, batch_fn, cfg: train.TrainConfig, *, ckpt: Checkpointer,
              meta: dict, eval_fn=None, sample_fn=None, time_budget_s=None, log=print):
    """Like :func:`jaxseq.train.fit` but stops cleanly before ``time_budget_s`` seconds of wall clock
    (saving a checkpoint), so a long run can be done in chunks: run it again to resume.

    Returns ``(params, history, last_step)``.
    """
    t_start = time.perf_counter()
    mesh = train.data_mesh()
    optimizer = train.make_optimizer(cfg)
    opt_state = optimizer.init(params)
    start = 0
    if ckpt.latest_step() is not None:
        start = ckpt.latest_step()
        params, opt_state, _ = ckpt.restore(start, params_like=params, opt_state_like=opt_state)
        log(f"resumed from {ckpt.directory} at step {start}")
    params, opt_state = train.replicate(params, mesh), train.replicate(opt_state, mesh)
    step_fn = train.make_train_step(loss_fn, optimizer)
    key = jax.random.PRNGKey(cfg.seed)
    history, acc, n_acc, last_eval = [], None, 0, {}
    bar = train._bar(cfg.steps, start, cfg.progress)
    t0, s0, step_times = time.perf_counter(), start, []

    def run_eval(step):
        nonlocal last_eval
        if eval_fn is not None:
            last_eval = {f"val_{k}": v for k, v in eval_fn(params, step).items()}
            history.append({"step": step, **last_eval})
            log(f"step {step}: " + ", ".join(f"{k}={v:.4f}" for k, v in last_eval.items()))
        if sample_fn is not None:
            sample_fn(params, step)

    done = start
    for step in range(start, cfg.steps):
        ts = time.perf_counter()
        batch = train.shard_batch(batch_fn(step), mesh)
        params, opt_state, m = step_fn(params, opt_state, batch, jax.random.fold_in(key, step))
        acc = m if acc is None else jax.tree_util.tree_map(jnp.add, acc, m)
        n_acc += 1
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            row = {k: float(v) / n_acc for k, v in jax.device_get(acc).items()}
            dt = time.perf_counter() - t0
            row["steps_per_s"] = (done - s0) / dt if dt > 0 else math.nan
            t0, s0, acc, n_acc = time.perf_counter(), done, None, 0
            if not np.isfinite(row["loss"]):
                raise FloatingPointError(f"loss became {row['loss']} at step {done}; lower --lr or "
                                         f"raise --clip")
            history.append({"step": done, **row})
            if bar is not None:
                bar.set_postfix(loss=f"{row['loss']:.3f}", it_s=f"{row['steps_per_s']:.2f}")
            else:
                log(f"step {done}: loss={row['loss']:.4f} ({row['steps_per_s']:.2f} steps/s)")
        if bar is not None:
            bar.update(1)
        if cfg.eval_every and done % cfg.eval_every == 0 and done != cfg.steps:
            run_eval(done)
        if cfg.ckpt_every and done % cfg.ckpt_every == 0 and done != cfg.steps:
            ckpt.save(done, params, opt_state, meta=meta, metrics=last_eval or None)
        step_times.append(time.perf_counter() - ts)
        if time_budget_s is not None and done < cfg.steps:
            # leave room for one more step, a final eval and the checkpoint (~30 steps' worth)
            # the chunk's first step includes compiling, so it is not a step time
            per = float(np.median(step_times[1:][-50:])) if len(step_times) > 1 else 0.0
            if time.perf_counter() - t_start + 30 * per + 30.0 > time_budget_s:
                log(f"time budget reached at step {done}; saving (run again to resume)")
                break
    if bar is not None:
        bar.close()
    if done > start or not history:
        run_eval(done)
        ckpt.save(done, params, opt_state, meta=meta, metrics=last_eval or None)
    return jax.device_get(params), history, done


# ------------------------------------------------------------------------------- continue from params
#: config fields that fix the params' shapes or meaning; a run initialised from a checkpoint must match
ARCH_FIELDS = ("task", "hidden", "layers", "n_mix", "n_gauss", "vocab", "kappa_scale")


def load_init_params(directory, step=None):
    """``(params float32, meta, step)`` from a checkpoint directory: an exported params-only one (e.g.
    ``ckpt/handwriting_synthesis``, maybe float16) or a training run (``step`` default: latest)."""
    ck = Checkpointer(directory)
    try:
        step = ck.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"--init-from {directory}: no checkpoint there (export or train one)")
        params, _, meta = ck.restore(step)
    finally:
        ck.close()
    params = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params)
    return params, meta, int(step)


def check_init_compatible(src_config: dict, wanted: dict, params, params_like, source=""):
    """Raise ValueError naming every mismatch between the checkpoint's config and the run's ``wanted``
    fields (only those given), and between the loaded params' shapes and ``params_like``'s."""
    diffs = [f"{k}: checkpoint has {src_config.get(k)!r}, this run asks for {v!r}"
             for k, v in wanted.items() if k in ARCH_FIELDS and src_config.get(k) != v]
    got = jax.tree_util.tree_map(lambda a: tuple(np.shape(a)), params)
    want = jax.tree_util.tree_map(lambda a: tuple(np.shape(a)), params_like)
    if not diffs and got != want:
        diffs.append(f"parameter shapes differ: checkpoint {got} vs model {want}")
    if diffs:
        raise ValueError(f"cannot initialise from {source}: " + "; ".join(diffs) +
                         ". Drop or change the flags (the architecture comes from the checkpoint).")
