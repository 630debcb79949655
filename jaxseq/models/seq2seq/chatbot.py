"""The PyTorch chatbot tutorial's model: a bidirectional GRU encoder and a Luong-attention GRU decoder.

Encoder (``EncoderRNN``): a word embedding shared with the decoder, then ``layers`` bidirectional GRU layers
(each direction ``hidden`` units, dropout between layers); the outputs of the two directions are **summed**
(``outputs[:, :, :H] + outputs[:, :, H:]``), so the encoder states are ``[B, S, H]``.

Decoder (``LuongAttnDecoderRNN``), one step: embed the previous word (embedding dropout), run the stacked
GRU, attend over the encoder states with a Luong global score (dot, general or concat;
:mod:`jaxseq.nn.attention`, padded source positions get zero weight), then
``h~ = tanh(W_c [rnn_out; context])`` and ``p(y) = softmax(W_o h~)``. Unlike Luong NMT there is no input
feeding: the attentional state is not fed back.

Training (:func:`loss_fn`): masked NLL averaged over the real target tokens (:func:`masked_nll`), with a
teacher-forcing ratio: each sequence is fed either the ground truth or the model's own greedy words for
the whole reply (the tutorial flips one coin per batch; one per sequence is the same in expectation).
Gradient clipping is the trainer's ``clip_norm``. Decoding is :mod:`jaxseq.search` over
:func:`decoder_start` / :func:`decoder_step` (the tutorial's ``GreedySearchDecoder`` is ``beam=1``).

Shapes: src [B, S] int32 with src_mask [B, S]; tgt_in / tgt_out / tgt_mask [B, T] (the batch layout of
:func:`jaxseq.data.eng_fra.make_batch`).
"""
from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp

from jaxseq import search
from jaxseq.data.vocab import EOS_ID, PAD_ID, SOS_ID
from jaxseq.models.seq2seq import common
from jaxseq.nn import attention
from jaxseq.nn import scan as rnn
from jaxseq.nn.cells import GRU
from jaxseq.nn.layers import dense_weight, dropout


@dataclasses.dataclass(frozen=True)
class ChatbotConfig:
    vocab: int
    hidden: int = 160               # the tutorial: 500 (ours keeps the shipped checkpoint under 4 MB)
    layers: int = 2                 # encoder and decoder GRU layers (the tutorial: 2 and 2)
    score: str = "dot"              # Luong score: dot | general | concat (the tutorial's default: dot)
    dropout: float = 0.1            # embedding dropout and between GRU layers

    def __post_init__(self):
        if self.score not in attention.SCORES:
            raise ValueError(f"score = {self.score!r}: choose one of {attention.SCORES}")
        for name in ("vocab", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: give a value of at least 1")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout = {self.dropout}: a probability in [0, 1)")

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d):
        return cls(**d)


def init(key, cfg: ChatbotConfig):
    H, L = cfg.hidden, cfg.layers
    ks = jax.random.split(key, 5 + 2 * L)
    return {"emb": jax.random.normal(ks[0], (cfg.vocab, H)) * 0.1,
            "enc": [rnn.bidirectional_init(GRU, ks[5 + i], H if i == 0 else 2 * H, H) for i in range(L)],
            "dec": [GRU.init(ks[5 + L + i], H, H) for i in range(L)],
            "attn": attention.luong_init(ks[1], cfg.score, H, H),
            "concat": dense_weight(ks[2], 2 * H, H), "concat_b": jnp.zeros((H,)),
            "out_w": dense_weight(ks[3], H, cfg.vocab), "out_b": jnp.zeros((cfg.vocab,))}


def encode(params, cfg: ChatbotConfig, src, src_mask, key=None):
    """-> (encoder states [B, S, H] (directions summed), decoder initial states: one [B, H] per layer).

    Decoder layer ``i`` starts from encoder layer ``i``'s final states, directions summed (the tutorial
    passes ``encoder_hidden[:n_layers]``, which for two layers is both directions of the first layer)."""
    keys = [None] * cfg.layers if key is None else list(jax.random.split(key, cfg.layers))
    x = dropout(keys[0], params["emb"][src], cfg.dropout)
    finals = []
    for i, p in enumerate(params["enc"]):
        if i > 0:
            x = dropout(keys[i], x, cfg.dropout)
        x, (ff, fb) = rnn.run_bidirectional(GRU, p, x, mask=src_mask)
        finals.append(ff + fb)
    H = cfg.hidden
    return x[..., :H] + x[..., H:], finals


def _step(params, cfg: ChatbotConfig, carries, token, ctx, key=None):
    """One decoder step (training and decoding): token [B] -> (carries, logits [B, V], weights [B, S]).
    ctx: (enc [B, S, H], enc_keys, src_mask). ``key`` enables dropout."""
    enc, keys, src_mask = ctx
    ks = [None] * (cfg.layers + 1) if key is None else list(jax.random.split(key, cfg.layers + 1))
    x = dropout(ks[0], params["emb"][token], cfg.dropout)
    new = []
    for i, p in enumerate(params["dec"]):
        if i > 0:
            x = dropout(ks[i], x, cfg.dropout)
        c, x = GRU.step(p, carries[i], x)
        new.append(c)
    context, w = attention.luong_attend(params["attn"], cfg.score, x, enc, src_mask, keys)
    h_tilde = jnp.tanh(jnp.concatenate([x, context], -1) @ params["concat"] + params["concat_b"])
    logits = (h_tilde @ params["out_w"] + params["out_b"]).astype(jnp.float32)
    return new, logits, w


def _context(params, cfg, enc, src_mask):
    return enc, attention.precompute_keys(params["attn"], cfg.score, enc), src_mask


def forward(params, cfg: ChatbotConfig, batch, key=None, *, tf_ratio=1.0, return_attn=False):
    """Decoder logits [B, T, V] over the reply (and attention [B, T, S] with ``return_attn``).

    ``key`` enables dropout and, when ``tf_ratio < 1``, the teacher-forcing draws: a sequence is fed the
    ground truth with probability ``tf_ratio``, else its own previous argmax, for the whole reply
    (:func:`jaxseq.models.seq2seq.common.teacher_forced`)."""
    src, src_mask = batch["src"], batch["src_mask"]
    k_enc = k_dec = None
    if key is not None:
        k_enc, k_dec = jax.random.split(key)
    enc, finals = encode(params, cfg, src, src_mask, k_enc)
    ctx = _context(params, cfg, enc, src_mask)

    def step(carries, tok, k):
        return _step(params, cfg, carries, tok, ctx, k)
    logits, attn = common.teacher_forced(step, finals, batch["tgt_in"], cfg.vocab, k_dec, tf_ratio)
    return (logits, attn) if return_attn else logits


def masked_nll(logits, targets, mask):
    """Mean negative log-likelihood over the real tokens (the tutorial's ``maskNLLLoss``, averaged over
    every real token of the batch). logits [B, T, V], targets [B, T] int, mask [B, T] (1 real, 0 pad)."""
    return common.token_loss(logits, targets, mask)[0]


def loss_fn(params, cfg: ChatbotConfig, batch, key=None, *, tf_ratio=1.0):
    """-> (masked NLL, metrics: nll, acc, tokens)."""
    logits = forward(params, cfg, batch, key, tf_ratio=tf_ratio)
    return common.token_loss(logits, batch["tgt_out"], batch["tgt_mask"])


def make_loss(cfg: ChatbotConfig, tf_ratio=1.0):
    """``loss(params, batch, key, step)`` for :func:`jaxseq.training.loop.fit`."""
    def f(params, batch, key, step):
        return loss_fn(params, cfg, batch, key, tf_ratio=tf_ratio)
    return f


# ------------------------------------------------------------------------------------------ search
def decoder_start(params, cfg: ChatbotConfig, src, src_mask):
    """The decoder state before ``<sos>``: per-layer GRU states and the encoder context (batch on axis 0)."""
    enc, finals = encode(params, cfg, src, src_mask)
    enc, keys, mask = _context(params, cfg, enc, src_mask)
    return {"carries": finals, "enc": enc, "keys": keys, "src_mask": mask}


def decoder_step(params, cfg: ChatbotConfig, state, token):
    """``(state, token [B]) -> (state, logits [B, V])`` for :mod:`jaxseq.search`."""
    carries, logits, _ = _step(params, cfg, state["carries"], token,
                               (state["enc"], state["keys"], state["src_mask"]))
    return dict(state, carries=carries), logits


@partial(jax.jit, static_argnames=("cfg", "max_len", "beam"))
def decode(params, cfg: ChatbotConfig, src, src_mask, max_len=10, beam=1, alpha=1.0):
    """Greedy (``beam=1``, the tutorial's ``GreedySearchDecoder``) or beam search, one jitted call for the
    whole batch. -> (tokens [B, max_len] int32 with <eos> then <pad>, scores [B])."""
    state = decoder_start(params, cfg, src, src_mask)
    step = partial(decoder_step, params, cfg)
    if beam == 1:
        return search.greedy(step, state, src.shape[0], max_len, SOS_ID, EOS_ID, PAD_ID)
    return search.beam_search(step, state, src.shape[0], max_len, beam, alpha, SOS_ID, EOS_ID, PAD_ID)


@partial(jax.jit, static_argnames=("cfg",))
def attention_for(params, cfg: ChatbotConfig, batch):
    """Teacher-forced attention weights [B, T, S] of the model reading ``batch["tgt_in"]``."""
    return forward(params, cfg, batch, None, return_attn=True)[1]
