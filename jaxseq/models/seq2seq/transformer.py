"""A Transformer encoder-decoder baseline (Vaswani et al. 2017) with pre-layer-norm blocks (Xiong et al.
2020): sinusoidal positions (§3.5), ``x + Drop(Sublayer(LN(x)))``, a final layer norm on each stack,
target embedding tied to the output projection (§3.4), label smoothing in the loss (§5.4, via
:func:`.common.token_loss`).

Decoding keeps a key/value cache of static length ``max_len`` (one slot per output position, written at
the current position), so :func:`decoder_step` is one token per call for :mod:`jaxseq.search`: the
state's leaves all have the batch on axis 0 (beam search reorders them). Shapes: src [B, S], src_mask
[B, S]; tgt_in [B, T]; activations [B, T, d].
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp

from jaxseq.nn.attention import NEG_INF
from jaxseq.nn.layers import dense, dense_init, dropout, layer_norm


@dataclasses.dataclass(frozen=True)
class Config:
    name: ClassVar[str] = "transformer"
    src_vocab: int
    tgt_vocab: int
    d_model: int = 256
    heads: int = 4
    ff: int = 1024
    enc_layers: int = 3
    dec_layers: int = 3
    dropout: float = 0.1
    label_smoothing: float = 0.1

    def to_json(self):
        return dataclasses.asdict(self)


def sinusoid(positions, d):
    """Positional encodings [..., d] of integer ``positions`` [...]: sin on even, cos on odd features."""
    i = jnp.arange(d // 2, dtype=jnp.float32)
    angle = positions[..., None].astype(jnp.float32) / (10000.0 ** (2 * i / d))
    return jnp.stack([jnp.sin(angle), jnp.cos(angle)], -1).reshape(positions.shape + (d,))


def _ln_init(d):
    return {"scale": jnp.ones((d,)), "bias": jnp.zeros((d,))}


def _ln(p, x):
    return layer_norm(x, p["scale"], p["bias"])


def _mha_init(key, d):
    ks = jax.random.split(key, 4)
    return {n: dense_init(k, d, d, "glorot") for n, k in zip(("q", "k", "v", "o"), ks)}


def _ffn_init(key, d, ff):
    k1, k2 = jax.random.split(key)
    return {"w1": dense_init(k1, d, ff, "glorot"), "w2": dense_init(k2, ff, d, "glorot")}


def init(key, cfg: Config):
    if cfg.d_model % cfg.heads or cfg.d_model % 2:
        raise ValueError(f"d_model {cfg.d_model} must be even and divisible by heads {cfg.heads}")
    d = cfg.d_model
    ks = iter(jax.random.split(key, 2 + 2 * cfg.enc_layers + 3 * cfg.dec_layers))
    enc = [{"ln1": _ln_init(d), "attn": _mha_init(next(ks), d), "ln2": _ln_init(d),
            "ffn": _ffn_init(next(ks), d, cfg.ff)} for _ in range(cfg.enc_layers)]
    dec = [{"ln1": _ln_init(d), "self": _mha_init(next(ks), d), "ln2": _ln_init(d),
            "cross": _mha_init(next(ks), d), "ln3": _ln_init(d), "ffn": _ffn_init(next(ks), d, cfg.ff)}
           for _ in range(cfg.dec_layers)]
    return {"src_emb": jax.random.normal(next(ks), (cfg.src_vocab, d)) * d ** -0.5,
            "tgt_emb": jax.random.normal(next(ks), (cfg.tgt_vocab, d)) * d ** -0.5,
            "enc": enc, "enc_ln": _ln_init(d), "dec": dec, "dec_ln": _ln_init(d),
            "out_b": jnp.zeros((cfg.tgt_vocab,))}


def _heads(x, h):
    """[B, T, d] -> [B, h, T, d/h]."""
    B, T, d = x.shape
    return x.reshape(B, T, h, d // h).transpose(0, 2, 1, 3)


def attend(q, k, v, mask):
    """Scaled dot-product attention (eq. 1). q [B, h, Tq, dk]; k, v [B, h, Tk, dk]; mask broadcastable
    to [B, h, Tq, Tk] (1: may attend). -> (out [B, h, Tq, dk], weights [B, h, Tq, Tk], 0 where masked)."""
    s = jnp.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.shape[-1])
    s = jnp.where(mask > 0, s, NEG_INF)
    w = jax.nn.softmax(s, -1) * (mask > 0)
    return jnp.einsum("bhqk,bhkd->bhqd", w, v), w


def _merge(o):
    B, h, T, dk = o.shape
    return o.transpose(0, 2, 1, 3).reshape(B, T, h * dk)


def mha(p, x, kv, mask, heads, return_weights=False):
    """Multi-head attention of queries ``x`` [B, Tq, d] over ``kv`` [B, Tk, d]."""
    o, w = attend(_heads(dense(p["q"], x), heads), _heads(dense(p["k"], kv), heads),
                  _heads(dense(p["v"], kv), heads), mask)
    out = dense(p["o"], _merge(o))
    return (out, w) if return_weights else out


def _ffn(p, x):
    return dense(p["w2"], jax.nn.relu(dense(p["w1"], x)))


def _embed(table, ids, positions, d):
    return table[ids] * math.sqrt(d) + sinusoid(positions, d)


def _keys(key, n):
    return [None] * n if key is None else list(jax.random.split(key, n))


def encode(params, cfg: Config, src, src_mask, key=None):
    """-> encoder memory [B, S, d] (final layer norm applied)."""
    ks = _keys(key, 1 + 2 * cfg.enc_layers)
    S = src.shape[1]
    x = dropout(ks[0], _embed(params["src_emb"], src, jnp.arange(S), cfg.d_model), cfg.dropout)
    m = src_mask[:, None, None, :]                                   # [B, 1, 1, S]
    for i, p in enumerate(params["enc"]):
        h = _ln(p["ln1"], x)
        x = x + dropout(ks[1 + 2 * i], mha(p["attn"], h, h, m, cfg.heads), cfg.dropout)
        x = x + dropout(ks[2 + 2 * i], _ffn(p["ffn"], _ln(p["ln2"], x)), cfg.dropout)
    return _ln(params["enc_ln"], x)


def _logits(params, x):
    return (jnp.einsum("btd,vd->btv", x, params["tgt_emb"]) + params["out_b"]).astype(jnp.float32)


def forward(params, cfg: Config, batch, key=None, return_attn=False):
    """Teacher-forced logits [B, T, V] (causal self-attention); with ``return_attn`` also the last
    layer's cross-attention averaged over heads [B, T, S]."""
    k_enc, k_dec = jax.random.split(key) if key is not None else (None, None)
    src_mask = batch["src_mask"]
    mem = encode(params, cfg, batch["src"], src_mask, k_enc)
    tgt = batch["tgt_in"]
    T = tgt.shape[1]
    ks = _keys(k_dec, 1 + 3 * cfg.dec_layers)
    x = dropout(ks[0], _embed(params["tgt_emb"], tgt, jnp.arange(T), cfg.d_model), cfg.dropout)
    causal = jnp.tril(jnp.ones((T, T)))[None, None]
    cross_m = src_mask[:, None, None, :]
    w = None
    for i, p in enumerate(params["dec"]):
        h = _ln(p["ln1"], x)
        x = x + dropout(ks[1 + 3 * i], mha(p["self"], h, h, causal, cfg.heads), cfg.dropout)
        c, w = mha(p["cross"], _ln(p["ln2"], x), mem, cross_m, cfg.heads, return_weights=True)
        x = x + dropout(ks[2 + 3 * i], c, cfg.dropout)
        x = x + dropout(ks[3 + 3 * i], _ffn(p["ffn"], _ln(p["ln3"], x)), cfg.dropout)
    logits = _logits(params, _ln(params["dec_ln"], x))
    return (logits, w.mean(1)) if return_attn else logits


# ------------------------------------------------------------------------- the decoder for search
def decoder_start(params, cfg: Config, src, src_mask, max_len):
    """Encode; empty caches for ``max_len`` output positions. State (batch on axis 0): ``pos`` [B],
    ``k``/``v`` [B, L, max_len, d] (self-attention caches), ``mem_k``/``mem_v`` [B, L, S, d] (each
    layer's cross-attention keys/values of the memory, computed once), ``src_mask`` [B, S]."""
    mem = encode(params, cfg, src, src_mask)
    B, d, L = src.shape[0], cfg.d_model, cfg.dec_layers
    mk = jnp.stack([dense(p["cross"]["k"], mem) for p in params["dec"]], 1)
    mv = jnp.stack([dense(p["cross"]["v"], mem) for p in params["dec"]], 1)
    z = jnp.zeros((B, L, max_len, d), mem.dtype)
    return {"pos": jnp.zeros((B,), jnp.int32), "k": z, "v": z, "mem_k": mk, "mem_v": mv,
            "src_mask": src_mask}


def decoder_step(params, cfg: Config, state, token):
    """Feed one token at position ``state["pos"]``: ``(state, token [B]) -> (state, logits [B, V])``."""
    pos, H = state["pos"], cfg.heads
    T = state["k"].shape[2]
    x = _embed(params["tgt_emb"], token[:, None], pos[:, None], cfg.d_model)       # [B, 1, d]
    slot = (jnp.arange(T)[None, :] == pos[:, None])                                  # [B, T]
    seen = (jnp.arange(T)[None, :] <= pos[:, None])[:, None, None, :]                # [B, 1, 1, T]
    cross_m = state["src_mask"][:, None, None, :]
    ks, vs = [], []
    for i, p in enumerate(params["dec"]):
        h = _ln(p["ln1"], x)
        k = jnp.where(slot[..., None], dense(p["self"]["k"], h), state["k"][:, i])  # write slot pos
        v = jnp.where(slot[..., None], dense(p["self"]["v"], h), state["v"][:, i])
        ks.append(k)
        vs.append(v)
        o, _ = attend(_heads(dense(p["self"]["q"], h), H), _heads(k, H), _heads(v, H), seen)
        x = x + dense(p["self"]["o"], _merge(o))
        o, _ = attend(_heads(dense(p["cross"]["q"], _ln(p["ln2"], x)), H), _heads(state["mem_k"][:, i], H),
                      _heads(state["mem_v"][:, i], H), cross_m)
        x = x + dense(p["cross"]["o"], _merge(o))
        x = x + _ffn(p["ffn"], _ln(p["ln3"], x))
    logits = _logits(params, _ln(params["dec_ln"], x))[:, 0]
    return dict(state, pos=pos + 1, k=jnp.stack(ks, 1), v=jnp.stack(vs, 1)), logits
