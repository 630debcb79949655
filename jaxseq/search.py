"""Greedy and beam search over a step function, knowing nothing of the model.

A model supplies ``step_fn(state, token [B]) -> (state, logits [B, V])`` and an initial ``state`` (any
pytree whose leaves have the batch on axis 0). Both searches are one ``lax.while_loop`` of at most
``max_len`` steps (static shapes): a finished hypothesis only emits ``pad_id`` at zero cost, and the loop
stops once every hypothesis has finished, which changes nothing in the output. Outputs are token ids ``[B, max_len]`` with ``eos_id`` then ``pad_id`` after the end.

The functions are pure and traceable; call them inside ``jax.jit`` with ``step_fn`` and the sizes static
(e.g. a jitted model function that builds ``step_fn`` as a closure over its params)::

    @partial(jax.jit, static_argnames=("max_len", "beam"))
    def decode(params, src, max_len, beam):
        state = start(params, src)
        return search.beam_search(lambda s, y: step(params, s, y), state, src.shape[0], max_len, beam,
                                  1.0, SOS, EOS)
"""
from __future__ import annotations

import operator

import jax
import jax.numpy as jnp

NEG = -1e9


def _check_sizes(max_len, beam=1):
    """``max_len`` and ``beam`` are static Python ints >= 1 (a 0 or negative one fails deep in lax.scan)."""
    for name, v in (("max_len", max_len), ("beam", beam)):
        try:
            ok = not isinstance(v, bool) and operator.index(v) >= 1
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(f"{name} {v!r}: give an integer of at least 1")


def greedy(step_fn, state, batch_size, max_len, sos_id, eos_id, pad_id=0):
    """Feed the argmax back in. -> (tokens [B, max_len] int32, log-probability of the output [B]).
    The loop stops as soon as every row has emitted ``eos_id`` (what is left would be padding)."""
    _check_sizes(max_len)
    def body(carry):
        t, state, y, done, score, toks = carry
        state, logits = step_fn(state, y)
        logp = jax.nn.log_softmax(logits.astype(jnp.float32), -1)
        nxt = jnp.argmax(logp, -1).astype(jnp.int32)
        score = score + jnp.where(done, 0.0, jnp.take_along_axis(logp, nxt[:, None], -1)[:, 0])
        nxt = jnp.where(done, pad_id, nxt)
        return t + 1, state, nxt, done | (nxt == eos_id), score, toks.at[:, t].set(nxt)

    B = batch_size
    init = (jnp.int32(0), state, jnp.full((B,), sos_id, jnp.int32), jnp.zeros((B,), bool), jnp.zeros((B,)),
            jnp.full((B, max_len), pad_id, jnp.int32))
    _, _, _, _, score, toks = jax.lax.while_loop(_running(max_len), body, init)
    return toks, score


def _running(max_len):
    """The loop condition: steps left and some hypothesis not finished (``done`` is carry[3])."""
    return lambda carry: (carry[0] < max_len) & ~jnp.all(carry[3])


def expand_beams(tree, beam):
    """Leaves ``[B, ...]`` -> ``[B * beam, ...]``, each row repeated ``beam`` times (rows of one batch
    element adjacent)."""
    return jax.tree_util.tree_map(lambda a: jnp.repeat(a, beam, axis=0), tree)


def _gather_beams(tree, idx):
    """tree leaves [B*K, ...]; idx [B, K] beam indices -> leaves reordered within each batch row."""
    B, K = idx.shape
    flat = (idx + jnp.arange(B)[:, None] * K).reshape(-1)
    return jax.tree_util.tree_map(lambda a: a[flat], tree)


def beam_search(step_fn, state, batch_size, max_len, beam, alpha, sos_id, eos_id, pad_id=0, n_best=False):
    """Beam search with length normalisation. ``state`` has batch ``B`` (it is expanded to ``B * beam``
    here); ``step_fn`` sees ``B * beam`` rows. The returned hypothesis maximises
    ``log p(y) / len(y) ** alpha`` (``len`` counts ``eos_id``) among the final ``beam`` hypotheses.

    With ``beam=1`` and ``alpha=0`` this is exactly :func:`greedy`. -> (tokens [B, max_len] int32,
    normalised score [B]); with ``n_best`` all ``beam`` final hypotheses, best first: (tokens
    [B, beam, max_len], scores [B, beam]).
    """
    _check_sizes(max_len, beam)
    B, K = batch_size, beam
    state = expand_beams(state, K)
    # only beam 0 is live at the start so the K copies of <sos> do not fill the beam with duplicates
    scores = jnp.tile(jnp.array([0.0] + [NEG] * (K - 1)), (B, 1))           # [B, K]

    def body(carry):
        t, state, y, done, scores, hist, length = carry
        state, logits = step_fn(state, y)
        V = logits.shape[-1]
        logp = jax.nn.log_softmax(logits.astype(jnp.float32), -1).reshape(B, K, V)
        eos_row = jnp.full((V,), NEG).at[pad_id].set(0.0)                 # a finished beam's only move
        logp = jnp.where(done[..., None], eos_row, logp)
        cand = (scores[..., None] + logp).reshape(B, K * V)
        scores, flat = jax.lax.top_k(cand, K)
        src_beam, tok = flat // V, (flat % V).astype(jnp.int32)
        state = _gather_beams(state, src_beam)
        hist = jnp.take_along_axis(hist, src_beam[..., None], 1).at[:, :, t].set(tok)
        was_done = jnp.take_along_axis(done, src_beam, 1)
        length = jnp.take_along_axis(length, src_beam, 1) + (~was_done).astype(jnp.int32)
        done = was_done | (tok == eos_id)
        return t + 1, state, tok.reshape(-1), done, scores, hist, length

    # every beam of every row finished: later steps would only add padding at zero cost, so stop
    init = (jnp.int32(0), state, jnp.full((B * K,), sos_id, jnp.int32), jnp.zeros((B, K), bool), scores,
            jnp.full((B, K, max_len), pad_id, jnp.int32), jnp.zeros((B, K), jnp.int32))
    _, _, _, _, scores, hist, length = jax.lax.while_loop(_running(max_len), body, init)
    norm = scores / jnp.maximum(length, 1).astype(jnp.float32) ** alpha
    if n_best:   # all final hypotheses, best first
        order = jnp.argsort(-norm, -1)
        return jnp.take_along_axis(hist, order[..., None], 1), jnp.take_along_axis(norm, order, 1)
    best = jnp.argmax(norm, -1)
    return (jnp.take_along_axis(hist, best[:, None, None], 1)[:, 0],
            jnp.take_along_axis(norm, best[:, None], 1)[:, 0])


def strip(ids, eos_id, pad_id=0):
    """One output row -> a list of ids up to (not including) the first ``eos_id`` or ``pad_id``."""
    out = []
    for t in ids:
        if t in (eos_id, pad_id):
            break
        out.append(int(t))
    return out
