"""Run cells over time with ``jax.lax.scan``: masks, stacked layers, bidirectional.

Shapes: inputs are batch-major ``xs: [B, T, D]`` unless ``time_major=True`` (``[T, B, D]``);
``mask: [B, T]`` (or ``[T, B]``) is 1 for real steps and 0 for padding. Past a sequence's end the carry
is frozen and the output is zero, so ``final_carry`` is the state after the last real step.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxseq.nn.cells import Cell


def default_unroll(backend=None) -> int:
    """The ``lax.scan`` unroll used when a caller gives none (``unroll=None``): 4 on a GPU, where each
    loop trip costs kernel launches (issue 15's layer: fwd+bwd 40.0 ms at unroll 4 against 75.9 ms at
    1, docs/benchmarks.md), and 1 elsewhere: on the 2-core development CPU unrolling made the char-LSTM
    train step 1.2x (4) and 1.7x (8) slower and handwriting sampling no faster
    (``benchmarks/cpu_parity.py``). The unroll changes no math (float rounding at most)."""
    backend = backend or jax.default_backend()
    return 4 if backend in ("gpu", "cuda", "rocm") else 1


def _where(m, new, old):
    """Select ``new`` where the per-example mask ``m [B]`` is set, else ``old`` (any pytree)."""
    return jax.tree_util.tree_map(
        lambda a, b: jnp.where(m.reshape((-1,) + (1,) * (a.ndim - 1)) > 0, a, b), new, old)


def run(cell: Cell, params, xs, *, mask=None, carry=None, reverse=False, time_major=False,
        unroll=None, dropout_mask=None, fused=None):
    """Run one layer. Returns ``(ys, final_carry)`` with ``ys`` in the layout of ``xs``.

    ``reverse=True`` runs from the last step to the first; with a mask, padded steps (which sit at the
    end) are skipped, so the reverse pass starts at each sequence's own last real step.

    ``fused`` picks the recurrence for a plain LSTM layer: ``None`` (default) uses the fused Pallas
    kernel of :mod:`jaxseq.nn.fused_lstm` only where :func:`~jaxseq.nn.fused_lstm.auto_select` says it
    was measured faster, else ``lax.scan``; ``True`` forces the kernel (through Pallas' interpreter off
    a GPU: slow, for tests); ``False`` forces the scan. ``unroll``: the scan's unroll factor (speed
    only), default :func:`default_unroll` of the backend.
    """
    if unroll is None:
        unroll = default_unroll()
    if not time_major:
        xs = jnp.swapaxes(xs, 0, 1)
        mask = None if mask is None else jnp.swapaxes(mask, 0, 1)
    T, B = xs.shape[:2]
    hidden = params["wh"].shape[0]
    if carry is None:
        carry = cell.zeros(B, hidden)
    xp = cell.project(params, xs)  # hoisted: one matmul over all T steps
    kernel_kw = None if fused is False else _fused_config(cell, params, xp, dropout_mask, fused)
    if kernel_kw is not None:
        from jaxseq.nn import fused_lstm
        ys, final = fused_lstm.lstm_run(params, xp, mask=mask, carry=carry, reverse=reverse,
                                        interpret=not fused_lstm.supported(params), **kernel_kw)
        return (ys if time_major else jnp.swapaxes(ys, 0, 1)), final
    kw = {} if dropout_mask is None else {"dropout_mask": dropout_mask}

    if mask is None:
        def body(c, x):
            return cell.step_projected(params, c, x, **kw)
        final, ys = jax.lax.scan(body, carry, xp, reverse=reverse, unroll=unroll)
    else:
        mask = mask.astype(jnp.float32)

        def body(c, inp):
            x, m = inp
            new_c, y = cell.step_projected(params, c, x, **kw)
            return _where(m, new_c, c), y * m[:, None].astype(y.dtype)
        final, ys = jax.lax.scan(body, carry, (xp, mask), reverse=reverse, unroll=unroll)
    if not time_major:
        ys = jnp.swapaxes(ys, 0, 1)
    return ys, final


def _fused_config(cell, params, xp, dropout_mask, fused):
    """The fused kernel's keywords if ``run`` should use it (``fused`` None or True), else None."""
    from jaxseq.nn import cells, fused_lstm
    if cell.step_projected is not cells.lstm_step_projected:
        if fused:
            raise ValueError("fused=True needs the LSTM cell")
        return None
    if fused:
        if dropout_mask is not None or "ln_g_scale" in params:
            raise ValueError("fused=True supports a plain LSTM (no layer norm, no recurrent dropout)")
        if not fused_lstm.supported(params):  # the interpreter: one program per batch group
            return {}
        return fused_lstm.auto_config(xp.shape, params["wh"].dtype) or {}
    if not fused_lstm.supported(params, dropout_mask=dropout_mask):
        return None
    return fused_lstm.auto_config(xp.shape, params["wh"].dtype)


def stacked_init(cell: Cell, key, in_dim, hidden, num_layers, **kw):
    keys = jax.random.split(key, num_layers)
    return [cell.init(k, in_dim if i == 0 else hidden, hidden, **kw) for i, k in enumerate(keys)]


def run_stacked(cell: Cell, layers, xs, *, mask=None, carries=None, time_major=False, unroll=None,
                dropout_key=None, dropout_rate=0.0):
    """Run layers one after the other (each layer one scan, its input projection hoisted).

    ``dropout_rate`` applies dropout between layers (not on the recurrent path) when a key is given.
    Returns ``(ys of the top layer, [final carry per layer])``.
    """
    finals = []
    h = xs
    for i, p in enumerate(layers):
        if i > 0 and dropout_key is not None and dropout_rate > 0.0:
            dropout_key, k = jax.random.split(dropout_key)
            keep = jax.random.bernoulli(k, 1.0 - dropout_rate, h.shape)
            h = jnp.where(keep, h / (1.0 - dropout_rate), 0.0)
        c0 = None if carries is None else carries[i]
        h, f = run(cell, p, h, mask=mask, carry=c0, time_major=time_major, unroll=unroll)
        finals.append(f)
    return h, finals


def reverse_padded(xs, lengths, *, time_major=False):
    """Reverse each sequence within its own length; padding stays at the end. xs: [B, T, ...]."""
    if time_major:
        xs = jnp.swapaxes(xs, 0, 1)
    T = xs.shape[1]
    t = jnp.arange(T)[None, :]
    idx = jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    out = jnp.take_along_axis(xs, idx.reshape(idx.shape + (1,) * (xs.ndim - 2)), axis=1)
    return jnp.swapaxes(out, 0, 1) if time_major else out


def bidirectional_init(cell: Cell, key, in_dim, hidden, **kw):
    kf, kb = jax.random.split(key)
    return {"fw": cell.init(kf, in_dim, hidden, **kw), "bw": cell.init(kb, in_dim, hidden, **kw)}


def run_bidirectional(cell: Cell, params, xs, *, mask=None, time_major=False, unroll=None):
    """Forward and backward passes, outputs concatenated on the feature axis: ``[B, T, 2H]``.

    Returns ``(ys, (final_fw, final_bw))``; ``final_bw`` is the backward state after reading each
    sequence's first step.
    """
    yf, ff = run(cell, params["fw"], xs, mask=mask, time_major=time_major, unroll=unroll)
    yb, fb = run(cell, params["bw"], xs, mask=mask, reverse=True, time_major=time_major,
                 unroll=unroll)
    return jnp.concatenate([yf, yb], axis=-1), (ff, fb)
