"""Scheduled sampling (Bengio et al. 2015) as one piece to drop into a ``lax.scan`` decoder.

``eps`` is the probability of feeding the ground truth (teacher forcing) at a step; its schedule over
training is :func:`jaxseq.training.schedules.teacher_forcing_prob`. Inside the scan, :func:`mix` picks,
per sequence, the ground-truth input with probability ``eps`` and the model's own sample otherwise. With
``eps = 1`` the choice is the ground truth everywhere, i.e. exactly teacher forcing.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

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
