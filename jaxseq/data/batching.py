"""Batches with static shapes: padding with masks, deterministic step-indexed batches, length buckets,
seeded splits. Every ``batch_fn(step)`` of the trainer is built from these, so a resumed run sees exactly
the data it would have seen.
"""
from __future__ import annotations

import sys

import numpy as np


def pad_batch(seqs, max_len=None, dtype=np.float32, pad_value=0):
    """List of arrays ``[T_i, ...]`` -> ``(padded [B, T, ...], mask [B, T])`` (mask 1 on real steps).

    ``max_len`` fixes T (static shapes under jit); longer sequences are an error, not silently cut.
    """
    lengths = np.array([len(s) for s in seqs])
    T = int(max_len if max_len is not None else lengths.max())
    if lengths.max() > T:
        raise ValueError(f"sequence of length {lengths.max()} exceeds max_len={T}")
    tail = np.asarray(seqs[0]).shape[1:]
    out = np.full((len(seqs), T) + tail, pad_value, dtype=dtype)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.float32)
    return out, mask


def batch_indices(step, n, batch_size, seed=0, shard=None):
    """Indices of batch ``step``: epochs are seeded permutations, so a resumed run sees the same data.

    Drops the ragged tail of each epoch to keep shapes static. ``batch_size`` is the global batch. On
    several processes (``jax.process_count() > 1``, or an explicit ``shard=(index, count)``) only this
    process's rows come back: the ``index``-th of ``count`` contiguous blocks, so the blocks
    concatenated in process order (as the trainer's ``shard_batch`` builds the global array) are the
    one-process batch. ``shard=(0, 1)`` always gives the whole batch.
    """
    index, count = _process_shard() if shard is None else shard
    if not 0 <= index < count:
        raise ValueError(f"shard {(index, count)}: the index must lie in [0, {count})")
    if batch_size % count:
        raise ValueError(f"batch size {batch_size} does not split evenly over {count} processes; "
                         f"use a multiple of {count}")
    per_epoch = n // batch_size
    if per_epoch == 0:
        raise ValueError(f"batch size {batch_size} is larger than the data set ({n} examples)")
    epoch, i = divmod(int(step), per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    rows = batch_size // count
    first = i * batch_size + index * rows
    return perm[first:first + rows]


def process_rows(batch, shard=None):
    """This process's contiguous block of the rows of a global ``batch`` (a dict, tuple or array with
    the batch on the leading axis), as ``batch_indices`` picks them: for a ``batch_fn`` that builds
    the whole global batch (random windows, length buckets) and should feed only its own share on
    several processes. One process gets ``batch`` unchanged."""
    index, count = _process_shard() if shard is None else shard
    if count == 1:
        return batch

    def block(x):
        x = np.asarray(x)
        if x.ndim == 0 or len(x) % count:
            raise ValueError(f"a batch of {len(x) if x.ndim else 0} rows does not split evenly over "
                             f"{count} processes; use a multiple of {count}")
        rows = len(x) // count
        return x[index * rows:(index + 1) * rows]
    if isinstance(batch, dict):
        return {k: process_rows(v, (index, count)) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(process_rows(v, (index, count)) for v in batch)
    return block(batch)


def _process_shard():
    """``(jax.process_index(), jax.process_count())``; ``(0, 1)`` when jax was never imported (a
    data-only user stays free of it)."""
    jax = sys.modules.get("jax")
    if jax is None:
        return 0, 1
    return jax.process_index(), jax.process_count()


def length_buckets(lengths, boundaries):
    """Bucket id of each length: the first boundary >= length (static shapes per bucket)."""
    lengths = np.asarray(lengths)
    b = np.searchsorted(np.asarray(boundaries), lengths, side="left")
    if (b >= len(boundaries)).any():
        raise ValueError(f"length {lengths.max()} exceeds the largest bucket {boundaries[-1]}")
    return b


def split_indices(n, fractions, seed=0):
    """A fixed, seeded split of ``range(n)`` into parts of the given fractions (the last takes the rest)."""
    perm = np.random.default_rng(seed).permutation(n)
    out, start = [], 0
    for f in fractions[:-1]:
        k = int(round(f * n))
        out.append(np.sort(perm[start:start + k]))
        start += k
    out.append(np.sort(perm[start:]))
    return out
