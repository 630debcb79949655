"""Word-embedding models of the PyTorch word-embeddings tutorial and word2vec, as pure functions:

- ``ngram``: the tutorial's N-gram language model: the embeddings of the ``window`` previous words,
  concatenated, a ReLU layer, then the output layer over the vocabulary;
- ``cbow``: continuous bag of words: the mean of the embeddings of the ``window`` words either side
  predicts the middle word;
- ``skipgram``: a word's embedding predicts each word within ``window`` of it.

Each model maps its input ``x [B, C]`` to a hidden vector ``h [B, D]``; one output layer (``out [V, D]``,
``bias [V]``) turns it into a loss by the full softmax, NCE or negative sampling
(:mod:`jaxseq.models.embeddings.losses`). No example predicts a special (<pad> <sos> <eos> <unk>), so
the softmax runs over the real words only and the samplers never draw a special. The word vectors are the input table ``embed [V, E]``.
Batches: ``{"x": [B, C] int32, "y": [B] int32}``; padding (context past a sentence edge) is id 0.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.vocab import PAD_ID, SPECIALS
from jaxseq.models.embeddings import losses
from jaxseq.nn import layers

MODELS = ("ngram", "cbow", "skipgram")
N_SPECIAL = len(SPECIALS)   # <pad> <sos> <eos> <unk>: never a target, so outside every softmax
LOSSES = ("softmax", "nce", "neg")


@dataclasses.dataclass(frozen=True)
class EmbedModelConfig:
    vocab: int                  # vocabulary size, specials included
    model: str = "skipgram"     # ngram | cbow | skipgram
    dim: int = 100              # embedding size
    window: int = 2             # ngram: previous words; cbow / skipgram: words either side
    hidden: int = 128           # ngram only: the ReLU layer's size

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model = {self.model!r}: choose one of {MODELS}")
        for name in ("vocab", "dim", "window", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be at least 1")

    @property
    def context(self) -> int:
        """Input words per example: C in ``x [B, C]``."""
        return {"ngram": self.window, "cbow": 2 * self.window, "skipgram": 1}[self.model]

    @property
    def out_dim(self) -> int:
        return self.hidden if self.model == "ngram" else self.dim


def init(key, cfg: EmbedModelConfig):
    """``{"embed": [V, E], "out": [V, D], "bias": [V]}`` (+ ``"hidden"`` dense params for ngram).
    Input vectors ~ U(-0.5/E, 0.5/E) as word2vec; output vectors small normal."""
    ke, ko, kh = jax.random.split(key, 3)
    p = {"embed": jax.random.uniform(ke, (cfg.vocab, cfg.dim), jnp.float32, -0.5, 0.5) / cfg.dim,
         "out": 0.1 * jax.random.normal(ko, (cfg.vocab, cfg.out_dim), jnp.float32) / np.sqrt(cfg.out_dim),
         "bias": jnp.zeros((cfg.vocab,), jnp.float32)}
    if cfg.model == "ngram":
        p["hidden"] = layers.dense_init(kh, cfg.window * cfg.dim, cfg.hidden)
    return p


def encode(params, cfg: EmbedModelConfig, x):
    """``x [B, C]`` -> ``h [B, D]``."""
    e = params["embed"][x]                                         # [B, C, E]
    if cfg.model == "skipgram":
        return e[:, 0]
    if cfg.model == "cbow":
        m = (x != PAD_ID).astype(e.dtype)[..., None]
        return (e * m).sum(1) / jnp.maximum(m.sum(1), 1.0)
    return jax.nn.relu(layers.dense(params["hidden"], e.reshape(e.shape[0], -1)))


def example_losses(params, cfg: EmbedModelConfig, batch, key, kind, noise=None):
    """``[B]`` losses of one batch under ``kind`` (softmax | nce | neg). ``noise``: a
    :class:`Noise` for the sampled losses (unused by softmax)."""
    h = encode(params, cfg, batch["x"])
    y = batch["y"]
    if kind == "softmax":
        return losses.softmax_nll(params["out"], params["bias"], h, y, skip=N_SPECIAL)
    if noise is None:
        raise ValueError(f"loss {kind!r} needs a noise distribution")
    if kind == "nce":
        sampled = losses.draw(key, noise.cdf, (noise.k,), noise.method)
        return losses.nce(params["out"], params["bias"], h, y, sampled, noise.log_kq)
    if kind == "neg":
        negatives = losses.draw(key, noise.cdf, (y.shape[0], noise.k), noise.method)
        return losses.negative_sampling(params["out"], h, y, negatives)
    raise ValueError(f"unknown loss {kind!r}; choose one of {LOSSES}")


class Noise:
    """The noise distribution of NCE / negative sampling: ``k`` draws from ``Q`` (see
    :func:`losses.sampler_probs`), its CDF for sampling and ``log(k Q)`` for NCE's correction."""

    def __init__(self, counts, kind, k, method=None):
        if k < 1:
            raise ValueError(f"num_sampled = {k}: must be at least 1")
        q = losses.sampler_probs(counts, kind)
        self.kind, self.k, self.method = kind, int(k), method   # method: see losses.draw
        self.cdf = jnp.asarray(np.cumsum(q), jnp.float32)
        self.log_kq = jnp.asarray(np.log(self.k * np.maximum(q, 1e-30)), jnp.float32)


def make_loss(cfg: EmbedModelConfig, kind, noise=None):
    """``loss_fn(params, batch, key, step) -> (mean loss, metrics)`` for :func:`jaxseq.training.loop.fit`."""
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; choose one of {LOSSES}")

    def loss_fn(params, batch, key, step=0):
        return example_losses(params, cfg, batch, key, kind, noise).mean(), {}
    return loss_fn


def heldout_nll(params, cfg: EmbedModelConfig, batch):
    """``[B]`` full-softmax NLL (nats) of each target: the common yardstick of every training loss."""
    return example_losses(params, cfg, batch, None, "softmax")
