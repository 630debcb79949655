"""The simple encoder-decoder (Sutskever et al. 2014; Cho et al. 2014), as the PyTorch tutorial's
``EncoderRNN`` + ``DecoderRNN``: no attention. The encoder's final state, the *context vector*, is the
decoder's initial state and the only thing the decoder knows of the source.

Encoder: embeddings -> (stacked, optionally bidirectional) GRU or LSTM (:func:`.common.encode`, Luong
NMT's encoder). Decoder step (tutorial ``DecoderRNN.forward``): ``x = relu(embedding(y_{t-1}))``,
``h_t = cell(x, h_{t-1})``, ``logits = W h_t + b``. Training is teacher forced with a ratio
(:func:`.common.teacher_forced`). Shapes: src [B, S] int32, src_mask [B, S]; tgt_in [B, T].
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from jaxseq.models.seq2seq import common
from jaxseq.nn.cells import get_cell
from jaxseq.nn.layers import dropout


@dataclasses.dataclass(frozen=True)
class Config:
    name: ClassVar[str] = "simple"
    src_vocab: int
    tgt_vocab: int
    emb: int = 256
    hidden: int = 512
    cell: str = "gru"            # gru | lstm (encoder and decoder)
    layers: int = 1
    bidirectional: bool = False  # encoder only; each direction hidden/2, final states concatenated
    dropout: float = 0.1         # on the embeddings
    tf_ratio: float = 0.5        # teacher-forcing ratio (the tutorial's 0.5)
    unroll: int = 1

    def to_json(self):
        return dataclasses.asdict(self)


def init(key, cfg: Config):
    k_enc, k_emb, k_out, *k_dec = jax.random.split(key, 3 + cfg.layers)
    cell = get_cell(cfg.cell)
    H, E = cfg.hidden, cfg.emb
    return {**common.encoder_init(k_enc, cfg, cfg.src_vocab, E, H),
            "tgt_emb": jax.random.normal(k_emb, (cfg.tgt_vocab, E)) * 0.1,
            "dec": [cell.init(k, E if i == 0 else H, H) for i, k in enumerate(k_dec)],
            **common.output_init(k_out, H, cfg.tgt_vocab)}


def step(params, cfg: Config, carries, token, key=None):
    """One decoder step: ``(carries, token [B]) -> (carries, logits [B, V])``."""
    cell = get_cell(cfg.cell)
    x = jax.nn.relu(dropout(key, params["tgt_emb"][token], cfg.dropout))
    new = []
    for p, c in zip(params["dec"], carries):
        c, x = cell.step(p, c, x)
        new.append(c)
    return new, jnp.dot(x, params["out_w"]) + params["out_b"]


def forward(params, cfg: Config, batch, key=None, return_attn=False):
    """Teacher-forced logits [B, T, V] (``key``: dropout and the teacher-forcing ratio). This model has
    no attention: ``return_attn`` gives None in its place."""
    k_enc, k_dec = jax.random.split(key) if key is not None else (None, None)
    _, finals = common.encode(params, cfg, batch["src"], batch["src_mask"], k_enc)

    def f(carries, tok, k):
        carries, logits = step(params, cfg, carries, tok, k)
        return carries, logits, None
    logits, _ = common.teacher_forced(f, common.decoder_carries(cfg, finals), batch["tgt_in"],
                                      cfg.tgt_vocab, k_dec, cfg.tf_ratio, cfg.unroll)
    return (logits, None) if return_attn else logits


def decoder_start(params, cfg: Config, src, src_mask, max_len=None):
    """The decoder state for :mod:`jaxseq.search`: ``{"carries"}`` (the context vector)."""
    _, finals = common.encode(params, cfg, src, src_mask)
    return {"carries": common.decoder_carries(cfg, finals)}


def decoder_step(params, cfg: Config, state, token):
    carries, logits = step(params, cfg, state["carries"], token)
    return {"carries": carries}, logits
