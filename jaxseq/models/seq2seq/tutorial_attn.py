"""The PyTorch seq2seq tutorial's attention decoder (``AttnDecoderRNN``), faithfully, plus padding masks.

Per decoder step (the tutorial's ``forward``)::

    embedded     = dropout(embedding(y_{t-1}))                         # [B, E]
    attn_weights = softmax(attn([embedded; h_{t-1}]))                   # [B, max_length]  <- a Linear
    attn_applied = attn_weights @ encoder_outputs                       # [B, H]
    output       = relu(attn_combine([embedded; attn_applied]))         # [B, H]
    h_t          = GRU(output, h_{t-1});  logits = out(h_t)

The scores come from one ``Linear(E + H -> max_length)``: a weight per *position* 0..max_length-1,
computed from the decoder's input and state alone, **never looking at the encoder outputs**. That makes
it location-based attention over a fixed window (the TorchFlow notes call it "local"), unlike Luong's
global attention (:func:`jaxseq.nn.attention.luong_attend`), whose score ``h_t . W h_s`` compares the
decoder state with every source state. Consequences: encoder outputs are padded (or cut) to
``max_length``, and a source longer than ``max_length`` cannot be read past it.

The tutorial pads ``encoder_outputs`` with zeros and lets the softmax give weight to those positions. Here
the scores of positions past each sentence's end are masked (weight exactly 0), so batches of mixed
lengths behave like the tutorial's batch size 1. Encoder: the tutorial's ``EncoderRNN`` (embeddings ->
one GRU), i.e. :func:`.common.encode`.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from jaxseq.models.seq2seq import common
from jaxseq.nn.attention import NEG_INF
from jaxseq.nn.cells import GRU
from jaxseq.nn.layers import dense, dense_init, dropout


@dataclasses.dataclass(frozen=True)
class Config:
    name: ClassVar[str] = "tutorial-attn"
    src_vocab: int
    tgt_vocab: int
    emb: int = 256
    hidden: int = 512
    max_length: int = 10         # encoder positions the attention Linear scores (the tutorial's MAX_LENGTH)
    dropout: float = 0.1         # the tutorial's dropout_p, on the decoder embedding
    tf_ratio: float = 0.5
    unroll: int = 1
    # the tutorial's encoder: one unidirectional GRU layer (fixed; read by common.encode)
    cell: ClassVar[str] = "gru"
    layers: ClassVar[int] = 1
    bidirectional: ClassVar[bool] = False

    def to_json(self):
        return dataclasses.asdict(self)


def init(key, cfg: Config):
    ks = jax.random.split(key, 6)
    E, H, M = cfg.emb, cfg.hidden, cfg.max_length
    return {**common.encoder_init(ks[0], cfg, cfg.src_vocab, E, H),
            "tgt_emb": jax.random.normal(ks[1], (cfg.tgt_vocab, E)) * 0.1,
            "attn": dense_init(ks[2], E + H, M),             # scores over positions 0..M-1
            "combine": dense_init(ks[3], E + H, H),
            "gru": GRU.init(ks[4], H, H),
            **common.output_init(ks[5], H, cfg.tgt_vocab)}


def fit_length(enc, src_mask, max_length):
    """Encoder outputs [B, S, H] and mask [B, S] padded with zeros, or cut, to ``max_length`` positions
    (the tutorial's ``encoder_outputs = torch.zeros(max_length, hidden)``)."""
    S = enc.shape[1]
    if S >= max_length:
        return enc[:, :max_length], src_mask[:, :max_length]
    pad = max_length - S
    return jnp.pad(enc, ((0, 0), (0, pad), (0, 0))), jnp.pad(src_mask, ((0, 0), (0, pad)))


def step(params, cfg: Config, h, token, enc, enc_mask, key=None):
    """One ``AttnDecoderRNN`` step. h [B, H], token [B], enc [B, M, H], enc_mask [B, M].
    -> (h [B, H], logits [B, V], attention weights [B, M] (0 on padding))."""
    embedded = dropout(key, params["tgt_emb"][token], cfg.dropout)
    scores = dense(params["attn"], jnp.concatenate([embedded, h], -1))          # [B, M]: no enc here
    scores = jnp.where(enc_mask > 0, scores, NEG_INF)
    w = jax.nn.softmax(scores, -1) * (enc_mask > 0)
    applied = jnp.einsum("bm,bmh->bh", w, enc)
    x = jax.nn.relu(dense(params["combine"], jnp.concatenate([embedded, applied], -1)))
    h, _ = GRU.step(params["gru"], h, x)
    return h, dense({"w": params["out_w"], "b": params["out_b"]}, h), w


def _encode(params, cfg, src, src_mask, key=None):
    enc, finals = common.encode(params, cfg, src, src_mask, key)
    enc, enc_mask = fit_length(enc, src_mask, cfg.max_length)
    return enc, enc_mask, finals[-1][0]          # the GRU's last hidden state starts the decoder


def forward(params, cfg: Config, batch, key=None, return_attn=False):
    """Teacher-forced logits [B, T, V]; with ``return_attn`` also the weights [B, T, max_length]."""
    k_enc, k_dec = jax.random.split(key) if key is not None else (None, None)
    enc, enc_mask, h0 = _encode(params, cfg, batch["src"], batch["src_mask"], k_enc)

    def f(h, tok, k):
        return step(params, cfg, h, tok, enc, enc_mask, k)
    logits, attn = common.teacher_forced(f, h0, batch["tgt_in"], cfg.tgt_vocab, k_dec, cfg.tf_ratio,
                                         cfg.unroll)
    return (logits, attn) if return_attn else logits


def decoder_start(params, cfg: Config, src, src_mask, max_len=None):
    """State for :mod:`jaxseq.search`: ``h`` [B, H], the encoder outputs fitted to ``max_length``
    (``enc``, ``enc_mask``) and the last weights ``attn`` [B, max_length]."""
    enc, enc_mask, h0 = _encode(params, cfg, src, src_mask)
    return {"h": h0, "enc": enc, "enc_mask": enc_mask, "attn": jnp.zeros(enc_mask.shape, jnp.float32)}


def decoder_step(params, cfg: Config, state, token):
    h, logits, w = step(params, cfg, state["h"], token, state["enc"], state["enc_mask"])
    return dict(state, h=h, attn=w), logits
