"""The LSTM part-of-speech tagger of the PyTorch sequence-models tutorial, with its exercise's character
augmentation: a character LSTM reads each word's letters, and its final state is concatenated to the
word embedding before the word LSTM. Batched, padded and masked.

Batches: ``words [B, T]`` int32 (0 = <pad>), ``word_mask [B, T]``, ``chars [B, T, L]`` int32 (charset ids,
0 past a word's end), ``char_mask [B, T, L]``, ``tags [B, T]`` int32. Returns per-word tag logits
``[B, T, K]``; losses are the masked mean NLL in nats per word.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxseq.nn import layers
from jaxseq.nn import scan as rnn
from jaxseq.nn.cells import LSTM, hidden_of


@dataclasses.dataclass(frozen=True)
class TaggerModelConfig:
    words: int                    # word vocabulary size (specials included)
    chars: int                    # charset size (id 0: unknown character)
    tags: int                     # tag set size
    embed: int = 32               # word embedding size
    hidden: int = 64              # word LSTM size
    use_chars: bool = True        # the character-level augmentation
    char_embed: int = 16          # character embedding size
    char_hidden: int = 32         # character LSTM size

    def __post_init__(self):
        for name in ("words", "chars", "tags", "embed", "hidden", "char_embed", "char_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be at least 1")


def init(key, cfg: TaggerModelConfig):
    kw, kc, kcl, kl, ko = jax.random.split(key, 5)
    in_dim = cfg.embed + (cfg.char_hidden if cfg.use_chars else 0)
    p = {"word_embed": jax.random.normal(kw, (cfg.words, cfg.embed), jnp.float32) * 0.1,
         "lstm": LSTM.init(kl, in_dim, cfg.hidden),
         "out": layers.dense_init(ko, cfg.hidden, cfg.tags)}
    if cfg.use_chars:
        p["char_embed"] = jax.random.normal(kc, (cfg.chars, cfg.char_embed), jnp.float32) * 0.1
        p["char_lstm"] = LSTM.init(kcl, cfg.char_embed, cfg.char_hidden)
    return p


def word_features(params, batch):
    """``[B, T, E (+ Hc)]``: the word embedding, with the character LSTM's final state appended when the
    params have one."""
    x = params["word_embed"][batch["words"]]
    if "char_lstm" in params:
        B, T, L = batch["chars"].shape
        ce = params["char_embed"][batch["chars"].reshape(B * T, L)]             # [B*T, L, Ec]
        _, final = rnn.run(LSTM, params["char_lstm"], ce, mask=batch["char_mask"].reshape(B * T, L))
        x = jnp.concatenate([x, hidden_of(final).reshape(B, T, -1)], -1)
    return x


def logits(params, batch):
    """``[B, T, K]`` tag scores."""
    hs, _ = rnn.run(LSTM, params["lstm"], word_features(params, batch), mask=batch["word_mask"])
    return layers.dense(params["out"], hs)


def loss_fn(params, batch, key=None, step=0):
    """Masked mean NLL per word, with the tagging accuracy as a metric."""
    lg = logits(params, batch)
    m = batch["word_mask"]
    nll = -jnp.take_along_axis(jax.nn.log_softmax(lg), batch["tags"][..., None], -1)[..., 0]
    n = jnp.maximum(m.sum(), 1.0)
    acc = ((lg.argmax(-1) == batch["tags"]) * m).sum() / n
    return (nll * m).sum() / n, {"accuracy": acc}
