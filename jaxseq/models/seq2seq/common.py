"""What the seq2seq models share: the recurrent encoder (the one of :mod:`jaxseq.models.nmt`), the
teacher-forced decoder loop with a teacher-forcing ratio, the token loss (optionally label-smoothed) and
the model registry.

Every model module (:mod:`.simple`, :mod:`.tutorial_attn`, :mod:`.transformer`) has the same surface:

- ``Config``: a frozen dataclass (hashable: a static jit argument) with ``name`` (a ClassVar);
- ``init(key, cfg) -> params``;
- ``forward(params, cfg, batch, key=None, return_attn=False) -> logits [B, T, V]`` (teacher forced;
  ``key`` enables dropout and the teacher-forcing ratio);
- ``decoder_start(params, cfg, src, src_mask, max_len) -> state`` and
  ``decoder_step(params, cfg, state, token [B]) -> (state, logits [B, V])``: the step function that
  :mod:`jaxseq.search` drives (one greedy/beam search for every model, Luong NMT included).
"""
from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp

from jaxseq.models.nmt import model as nmt
from jaxseq.nn import scan as rnn
from jaxseq.nn import teacher_forcing
from jaxseq.nn.cells import get_cell
from jaxseq.nn.layers import dense_weight

MODELS = ("simple", "tutorial-attn", "transformer")
_MODULES = {"simple": "simple", "tutorial-attn": "tutorial_attn", "transformer": "transformer"}

# the recurrent encoder: embeddings -> stacked (bi)RNN with masks, exactly Luong NMT's
encode = nmt.encode


def module(name: str):
    """The model module of a model name (one of :data:`MODELS`)."""
    if name not in _MODULES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return importlib.import_module(f"jaxseq.models.seq2seq.{_MODULES[name]}")


def module_of(cfg):
    return module(cfg.name)


def encoder_init(key, cfg, vocab, emb, hidden):
    """Params ``{"src_emb", "enc"}`` in the layout :func:`encode` reads (``cfg``: ``cell``, ``layers``,
    ``bidirectional``; each direction of a bidirectional layer has ``hidden / 2`` units)."""
    if cfg.bidirectional and hidden % 2:
        raise ValueError(f"bidirectional encoder needs an even hidden size, got {hidden}")
    cell = get_cell(cfg.cell)
    ks = jax.random.split(key, cfg.layers + 1)
    h = hidden // 2 if cfg.bidirectional else hidden
    enc = [rnn.bidirectional_init(cell, k, emb if i == 0 else hidden, h) if cfg.bidirectional
           else cell.init(k, emb if i == 0 else hidden, h) for i, k in enumerate(ks[1:])]
    return {"src_emb": jax.random.normal(ks[0], (vocab, emb)) * 0.1, "enc": enc}


def decoder_carries(cfg, finals):
    """Encoder final carries (as :func:`encode` returns them: ``(h, c)`` per layer, ``c`` zero for a
    GRU) -> the carries of a decoder of cell ``cfg.cell`` (the "context vector" that starts it)."""
    return [f if cfg.cell == "lstm" else f[0] for f in finals]


def output_init(key, hidden, vocab):
    return {"out_w": dense_weight(key, hidden, vocab, "uniform"), "out_b": jnp.zeros((vocab,))}


def teacher_forced(step, state, tgt_in, vocab, key=None, tf_ratio=1.0, unroll=1):
    """Run ``step(state, token [B], key) -> (state, logits [B, V], extra)`` over the target
    (``vocab``: V).

    With a ``key`` and ``tf_ratio < 1``, each sequence is fed the ground truth with probability
    ``tf_ratio`` and otherwise its own previous argmax, decided once per sentence as in the PyTorch
    tutorial (``use_teacher_forcing = random.random() < teacher_forcing_ratio``): the same key is
    given to :func:`jaxseq.nn.teacher_forcing.mix` at every step. The first input is always <sos>.
    ``key`` also feeds the per-step dropout keys. Returns ``(logits [B, T, V], extras [B, T, ...])``.
    """
    B, T = tgt_in.shape
    free = key is not None and tf_ratio < 1.0
    k_tf, k_steps = jax.random.split(key) if key is not None else (None, None)
    step_keys = jax.random.split(k_steps, T) if key is not None else None

    def body(carry, inp):
        state, prev = carry
        truth, k_t, t = inp
        tok = truth
        if free:
            tok = jnp.where(t == 0, truth, teacher_forcing.mix(k_tf, tf_ratio, truth,
                                                               jnp.argmax(prev, -1).astype(truth.dtype)))
        state, logits, extra = step(state, tok, k_t)
        return (state, logits if free else prev), (logits, extra)

    prev = jnp.zeros((B, vocab if free else 1), jnp.float32)
    _, (logits, extras) = jax.lax.scan(body, (state, prev), (tgt_in.T, step_keys, jnp.arange(T)),
                                       unroll=unroll)
    swap = lambda a: jnp.swapaxes(a, 0, 1)
    return swap(logits), jax.tree_util.tree_map(swap, extras)


def token_loss(logits, tgt_out, mask, smoothing=0.0):
    """Mean cross-entropy over real target tokens, with label smoothing ``smoothing`` (Szegedy et al.
    2016: the target distribution is ``(1 - s) one_hot + s / V``). logits [B, T, V], tgt_out [B, T],
    mask [B, T]. -> (loss, metrics: nll (unsmoothed), acc, tokens)."""
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), -1)
    nll = -jnp.take_along_axis(logp, tgt_out[..., None], -1)[..., 0]
    m = mask.astype(jnp.float32)
    n = jnp.maximum(m.sum(), 1.0)
    per_tok = nll if not smoothing else (1.0 - smoothing) * nll - smoothing * logp.mean(-1)
    acc = ((logits.argmax(-1) == tgt_out) * m).sum() / n
    return (per_tok * m).sum() / n, {"nll": (nll * m).sum() / n, "acc": acc, "tokens": m.sum()}


def make_loss(cfg):
    """``loss(params, batch, key, step)`` for :func:`jaxseq.training.loop.fit`."""
    mod = module_of(cfg)

    def f(params, batch, key, step):
        logits = mod.forward(params, cfg, batch, key)
        return token_loss(logits, batch["tgt_out"], batch["tgt_mask"], getattr(cfg, "label_smoothing", 0.0))
    return f


def count_params(params) -> int:
    return sum(int(a.size) for a in jax.tree_util.tree_leaves(params))
