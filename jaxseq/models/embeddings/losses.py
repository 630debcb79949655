"""Output losses for word models: the full softmax, NCE as ``tf.nn.nce_loss`` computes it, and word2vec's
negative sampling; plus the candidate samplers they draw noise words from.

Shapes: ``w: [V, D]`` output embeddings, ``b: [V]`` output biases, ``h: [B, D]`` the model's hidden
vector per example, ``target: [B]`` int32 true words. Every loss returns ``[B]`` per-example losses in
nats (the caller takes the mean).

NCE (Gutmann & Hyvarinen 2010; Mnih & Teh 2012), exactly as ``tf.nn.nce_loss`` with its defaults
(``num_true=1``, ``remove_accidental_hits=False``): one shared set of ``k`` noise words per batch, drawn
with replacement from ``Q``; every logit is corrected by the log expected count of its word,
``s(w) = h . w_w + b_w - log(k Q(w))``, and the loss is the sigmoid cross-entropy of the true word
(label 1) plus that of each noise word (label 0). Negative sampling (Mikolov et al. 2013) drops the bias
and the ``log kQ`` correction and draws ``k`` noise words per example.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

SAMPLERS = ("log_uniform", "unigram75")


def sampler_probs(counts, kind="log_uniform"):
    """Noise distribution ``Q [V]`` (float64, sums to 1) from training counts ``[V]``.

    ``log_uniform``: the Zipfian ``Q(r) = log((r + 2) / (r + 1)) / log(n + 1)`` of
    ``tf.random.log_uniform_candidate_sampler`` (``tf.nn.nce_loss``'s default), over the rank ``r`` of each
    of the ``n`` words with a positive count, by descending count (ties by id).
    ``unigram75``: word2vec's ``count ** 0.75``, normalised.
    Ids with a zero count (the specials <pad>, <sos>, <eos>; <unk>, which is never predicted) get
    ``Q = 0``: they are never drawn as noise.
    """
    counts = np.asarray(counts, np.float64)
    V = len(counts)
    if kind == "log_uniform":
        n = int((counts > 0).sum())
        if n == 0:
            raise ValueError("log_uniform sampler: every count is zero")
        order = np.lexsort((np.arange(V), -counts))     # most frequent first
        rank = np.empty(V, np.int64)
        rank[order] = np.arange(V)
        q = np.log((rank + 2.0) / (rank + 1.0)) / np.log(n + 1.0)
        return np.where(counts > 0, q, 0.0)
    if kind == "unigram75":
        p = counts ** 0.75
        if p.sum() <= 0:
            raise ValueError("unigram75 sampler: every count is zero")
        return p / p.sum()
    raise ValueError(f"unknown sampler {kind!r}; choose one of {SAMPLERS}")


def draw(key, cdf, shape, method=None):
    """Samples with replacement from the distribution whose cumulative sum is ``cdf [V]``: inverse CDF by
    binary search, O(log V) per sample (no ``[n, V]`` Gumbel table). ``method``: ``jnp.searchsorted``'s
    (None: "scan" on a CPU, "sort" on an accelerator, as its documentation advises); every method gives
    the same samples."""
    if method is None:
        method = "scan" if jax.default_backend() == "cpu" else "sort"
    u = jax.random.uniform(key, shape, jnp.float32) * cdf[-1]
    i = jnp.searchsorted(cdf, u.reshape(-1), side="right", method=method).reshape(shape)
    return jnp.clip(i, 0, cdf.shape[0] - 1).astype(jnp.int32)


def logits_all(w, b, h, skip=0):
    """``[B, V]`` logits of every word; the first ``skip`` ids (specials that are never a target) get
    ``-inf``, so they take no probability mass."""
    logits = jnp.dot(h, w.T) + (0.0 if b is None else b)
    if skip:
        logits = jnp.where(jnp.arange(w.shape[0]) < skip, -jnp.inf, logits)
    return logits


def softmax_nll(w, b, h, target, skip=0):
    """``-log softmax(h W^T + b)[target]``: the full softmax over the ids from ``skip`` on (``b`` may be
    None)."""
    logits = logits_all(w, b, h, skip)
    return jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, target[:, None], -1)[:, 0]


def nce(w, b, h, target, sampled, log_q):
    """``tf.nn.nce_loss``: ``sampled [k]`` shared noise words, ``log_q [V]`` = ``log(k Q)`` per word (the
    log expected count of each word in ``k`` draws with replacement)."""
    true_logit = jnp.sum(h * w[target], -1) + b[target] - log_q[target]            # [B]
    noise_logit = jnp.dot(h, w[sampled].T) + b[sampled] - log_q[sampled]            # [B, k]
    # sigmoid cross-entropy: label 1 -> softplus(-x), label 0 -> softplus(x)
    return jax.nn.softplus(-true_logit) + jax.nn.softplus(noise_logit).sum(-1)


def negative_sampling(w, h, target, negatives):
    """word2vec: ``-log sig(h . w_o) - sum_k log sig(-h . w_k)`` with ``negatives [B, k]`` per example."""
    pos = jnp.sum(h * w[target], -1)                                              # [B]
    neg = jnp.einsum("bd,bkd->bk", h, w[negatives])                               # [B, k]
    return jax.nn.softplus(-pos) + jax.nn.softplus(neg).sum(-1)
