"""Training plumbing for the handwriting networks: static-shape batches of lines with their text, a
wall-clock-bounded resumable training loop, validation NLL, and the style-priming lines kept in a
checkpoint.

Lines are stroke-3 arrays ``[T_i, 3]`` (dx, dy, eos) already normalised (``jaxseq.data.iam``) with their
texts. Every batch has the same shapes (``max_len`` points, ``text_len`` characters), so the train step
compiles once.
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import numpy as np

from jaxseq.training import loop as train
from jaxseq.data.charset import Charset, encode_batch
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.data.batching import batch_indices


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
    """Like :func:`jaxseq.training.loop.fit` but stops cleanly before ``time_budget_s`` seconds of wall clock
    (saving a checkpoint), so a long run can be done in chunks: run it again to resume.

    Returns ``(params, history, last_step)``.
    """
    params, history = train.fit(loss_fn, params, batch_fn, cfg, eval_fn=eval_fn, sample_fn=sample_fn,
                                ckpt=ckpt, meta=meta, log=log, time_budget_s=time_budget_s)
    return params, history, ckpt.latest_step()


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
