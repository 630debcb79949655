"""Decoding for :mod:`jaxseq.nmt`: batched greedy and beam search, each one ``lax.scan`` of a fixed
``max_len`` steps (static shapes; finished hypotheses only emit <pad> at zero cost).

Use through :func:`greedy` / :func:`beam_search` which are jitted with the config, lengths and beam
size static. Outputs are token ids ``[B, max_len]`` with <eos> then <pad> after the end.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jaxseq.nn import attention
from jaxseq.models.nmt import model as nmt
from jaxseq.data.vocab import EOS_ID, PAD_ID, SOS_ID

NEG = -1e9


def _setup(params, cfg, src, src_mask):
    params = nmt.cast_params(params, cfg)
    enc, finals = nmt.encode(params, cfg, src, src_mask)
    ctx = (enc, attention.precompute_keys(params["attn"], cfg.score, enc), src_mask)
    return params, ctx, nmt.init_state(params, cfg, finals, src.shape[0])


@partial(jax.jit, static_argnames=("cfg", "max_len"))
def greedy(params, cfg, src, src_mask, max_len=20):
    """-> (tokens [B, max_len] int32, attention [B, max_len, S], log-prob of the output [B])."""
    params, ctx, state = _setup(params, cfg, src, src_mask)
    B = src.shape[0]

    def body(carry, _):
        state, y, done, score = carry
        state, h_tilde, w = nmt.decoder_step(params, cfg, state, nmt.embed_project(params, cfg, y), ctx)
        logp = jax.nn.log_softmax(nmt.logits_of(params, h_tilde), -1)
        nxt = jnp.argmax(logp, -1).astype(jnp.int32)
        score = score + jnp.where(done, 0.0, jnp.take_along_axis(logp, nxt[:, None], -1)[:, 0])
        nxt = jnp.where(done, PAD_ID, nxt)
        return (state, nxt, done | (nxt == EOS_ID), score), (nxt, w)

    init = (state, jnp.full((B,), SOS_ID, jnp.int32), jnp.zeros((B,), bool), jnp.zeros((B,)))
    (_, _, _, score), (toks, attn) = jax.lax.scan(body, init, None, length=max_len)
    return jnp.swapaxes(toks, 0, 1), jnp.swapaxes(attn, 0, 1), score


def _gather_beams(tree, idx):
    """tree leaves [B*K, ...]; idx [B, K] beam indices -> leaves reordered per batch row."""
    B, K = idx.shape
    flat = (idx + jnp.arange(B)[:, None] * K).reshape(-1)
    return jax.tree_util.tree_map(lambda a: a[flat], tree)


@partial(jax.jit, static_argnames=("cfg", "max_len", "beam"))
def beam_search(params, cfg, src, src_mask, max_len=20, beam=5, alpha=1.0):
    """Beam search with length normalisation: the returned hypothesis maximises
    ``log p(y) / len(y) ** alpha`` (len counts <eos>) among the final ``beam`` hypotheses.

    With ``beam=1`` this is exactly greedy decoding. -> (tokens [B, max_len], normalised score [B]).
    """
    B, S = src.shape
    K = beam
    rep = lambda a: jnp.repeat(a, K, axis=0)                               # [B, ...] -> [B*K, ...]
    params, (enc, keys, mask), state = _setup(params, cfg, src, src_mask)
    ctx = (rep(enc), None if keys is None else rep(keys), rep(mask))
    state = jax.tree_util.tree_map(rep, state)
    V = cfg.tgt_vocab
    # only beam 0 is live at the start so the K copies of <sos> do not fill the beam with duplicates
    scores = jnp.tile(jnp.array([0.0] + [NEG] * (K - 1)), (B, 1))           # [B, K]
    eos_row = jnp.full((V,), NEG).at[PAD_ID].set(0.0)                      # a finished beam's only move

    def body(carry, t):
        state, y, done, scores, hist, length = carry
        state, h_tilde, _ = nmt.decoder_step(params, cfg, state, nmt.embed_project(params, cfg, y), ctx)
        logp = jax.nn.log_softmax(nmt.logits_of(params, h_tilde), -1).reshape(B, K, V)
        logp = jnp.where(done[..., None], eos_row, logp)
        cand = (scores[..., None] + logp).reshape(B, K * V)
        scores, flat = jax.lax.top_k(cand, K)
        src_beam, tok = flat // V, (flat % V).astype(jnp.int32)
        state = _gather_beams(state, src_beam)
        hist = jnp.take_along_axis(hist, src_beam[..., None], 1).at[:, :, t].set(tok)
        was_done = jnp.take_along_axis(done, src_beam, 1)
        length = jnp.take_along_axis(length, src_beam, 1) + (~was_done).astype(jnp.int32)
        done = was_done | (tok == EOS_ID)
        return (state, tok.reshape(-1), done, scores, hist, length), None

    init = (state, jnp.full((B * K,), SOS_ID, jnp.int32), jnp.zeros((B, K), bool), scores,
            jnp.full((B, K, max_len), PAD_ID, jnp.int32), jnp.zeros((B, K), jnp.int32))
    (_, _, _, scores, hist, length), _ = jax.lax.scan(body, init, jnp.arange(max_len))
    norm = scores / jnp.maximum(length, 1).astype(jnp.float32) ** alpha
    best = jnp.argmax(norm, -1)
    return (jnp.take_along_axis(hist, best[:, None, None], 1)[:, 0],
            jnp.take_along_axis(norm, best[:, None], 1)[:, 0])


def attention_for(params, cfg, src, src_mask, tokens):
    """Attention weights [B, T, S] of the model reading ``tokens`` [B, T] (e.g. a beam output) as the
    target: teacher-forced, so every decoding method gets a heatmap."""
    tgt_in = jnp.concatenate([jnp.full((tokens.shape[0], 1), SOS_ID, tokens.dtype), tokens[:, :-1]], 1)
    batch = {"src": src, "src_mask": src_mask, "tgt_in": tgt_in}
    _, attn = _forced(params, cfg, batch)
    return attn


@partial(jax.jit, static_argnames=("cfg",))
def _forced(params, cfg, batch):
    return nmt.forward(params, cfg, batch, None, return_attn=True)


# ------------------------------------------------------------------------------------ host helpers
def _bucket(n, bounds=(8, 12, 16, 24, 32, 48, 64, 96, 128)):
    for b in bounds:
        if n <= b:
            return b
    return n


def translate_ids(params, cfg, sources, *, beam=1, alpha=1.0, max_len=None, batch_size=64,
                  bounds=(8, 12, 16, 24, 32, 48, 64, 96, 128)):
    """Decode a list of source id lists (each ending with <eos>). Sources are grouped into length
    ``bounds`` (few compiled shapes); ``max_len`` (default about twice the source) caps the output. Returns a list of output id lists (without <eos>/<pad>)."""
    import numpy as np
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out = [None] * len(sources)
    for j in range(0, len(order), batch_size):
        chunk = order[j:j + batch_size]
        S = _bucket(max(len(sources[i]) for i in chunk), bounds)
        src = np.zeros((batch_size, S), np.int32)
        for r, i in enumerate(chunk):
            src[r, :len(sources[i])] = sources[i]
        src[len(chunk):] = src[0]                                       # filler rows, discarded
        mask = (src != PAD_ID).astype(np.float32)
        T = max_len or _bucket(2 * S + 4)
        if beam == 1:
            toks = greedy(params, cfg, src, mask, max_len=T)[0]
        else:
            toks = beam_search(params, cfg, src, mask, max_len=T, beam=beam, alpha=alpha)[0]
        toks = np.asarray(toks)
        for r, i in enumerate(chunk):
            row = []
            for t in toks[r]:
                if t in (EOS_ID, PAD_ID):
                    break
                row.append(int(t))
            out[i] = row
    return out


def bleu(hyps, refs):
    """Corpus BLEU (sacrebleu, 13a tokenisation) of detokenised strings; None if sacrebleu is missing."""
    try:
        import sacrebleu
    except ImportError:
        print("sacrebleu is not installed: BLEU not computed (pip install sacrebleu)")
        return None
    # our text is already tokenised (normalised, punctuation split), as in the tutorial; say so
    return float(sacrebleu.corpus_bleu(list(hyps), [list(refs)], force=True).score)
