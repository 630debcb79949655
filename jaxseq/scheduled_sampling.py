"""Scheduled sampling (Bengio et al. 2015) as one piece to drop into a ``lax.scan`` decoder.

``eps`` is the probability of feeding the ground truth (teacher forcing) at a step; it decays over
training with one of the paper's three schedules (§2.4). Inside the scan, :func:`mix` picks, per
sequence, the ground-truth input with probability ``eps`` and the model's own sample otherwise. With
``eps = 1`` the choice is the ground truth everywhere, i.e. exactly teacher forcing.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

SCHEDULES = ("linear", "exponential", "inverse_sigmoid", "constant")


_DEFAULT_K = {"linear": 1.0, "exponential": 0.999, "inverse_sigmoid": 1000.0, "constant": 1.0}


def teacher_forcing_prob(step, kind="inverse_sigmoid", *, k=None, c=1e-4, eps_min=0.0):
    """eps(step) for ``kind`` (``k=None`` takes a sensible per-schedule default, see ``_DEFAULT_K``;
    one shared default such as 1000 would pin a linear schedule at 1 for ~10^7 steps):

    - ``linear``: ``max(eps_min, k - c * step)`` (k <= 1; pass e.g. k=1, c=1/steps)
    - ``exponential``: ``k ** step`` (k < 1, e.g. 0.999)
    - ``inverse_sigmoid``: ``k / (k + exp(step / k))`` (k >= 1 sets how long eps stays near 1)
    - ``constant``: ``k``
    Works on Python numbers and on traced arrays.
    """
    step = jnp.asarray(step, jnp.float32)
    if kind not in _DEFAULT_K:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {SCHEDULES}")
    k = _DEFAULT_K[kind] if k is None else k
    if kind == "linear":
        eps = jnp.maximum(eps_min, k - c * step)
    elif kind == "exponential":
        eps = jnp.asarray(k, jnp.float32) ** step
    elif kind == "inverse_sigmoid":
        eps = k / (k + jnp.exp(jnp.minimum(step / k, 80.0)))
    elif kind == "constant":
        eps = jnp.full_like(step, k)
    else:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {SCHEDULES}")
    return jnp.clip(jnp.maximum(eps, eps_min), 0.0, 1.0)


def mix(key, eps, truth, sampled):
    """Per sequence (leading axis B), ``truth`` with probability ``eps`` else ``sampled``.

    truth, sampled: pytrees of ``[B, ...]`` arrays with the same structure (e.g. token ids or
    stroke points). ``eps`` is a scalar or ``[B]``.
    """
    leaves = jax.tree_util.tree_leaves(truth)
    B = leaves[0].shape[0]
    use_truth = jax.random.uniform(key, (B,)) < eps
    return jax.tree_util.tree_map(
        lambda t, s: jnp.where(use_truth.reshape((B,) + (1,) * (t.ndim - 1)), t, s.astype(t.dtype)),
        truth, sampled)
