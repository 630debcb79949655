"""Character-level LSTM language model, trained with teacher forcing or scheduled sampling (Bengio et al.
2015); ``experiments/scheduled_sampling.py`` compares the two on tiny Shakespeare.

    from jaxseq import char_lm
    lm = char_lm.load("runs/ss/ckpt_tf")              # a run of experiments/scheduled_sampling.py
    lm.sample("ROMEO:", length=200, temperature=0.8)  # -> str (a list of prefixes -> a list)
    lm.bits_per_char("To be, or not to be")

``sample``'s defaults (length, temperature) are the experiment's (:class:`SSConfig`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.charset import Charset
from jaxseq.data.files import require_kind
from jaxseq.models.char_lm import model
from jaxseq.models.char_lm.model import CharRNNConfig, init, make_ss_loss, ss_loss, tf_loss
from jaxseq.models.char_lm.ngram import CharNGram, real_word_fraction, word_set
from jaxseq.models.char_lm.training import MODES, SSConfig, Yardstick, check_corpus, eps_schedule, train

DEFAULTS = SSConfig()

__all__ = ["CharLM", "load", "check_sample_args", "check_corpus", "CharRNNConfig", "SSConfig", "init",
           "tf_loss", "ss_loss", "make_ss_loss", "eps_schedule", "train", "Yardstick", "CharNGram",
           "real_word_fraction", "word_set", "MODES"]


class CharLM:
    """A trained character LSTM with its charset."""

    def __init__(self, params, charset: Charset, config: CharRNNConfig, meta=None):
        self.params = jax.tree_util.tree_map(jnp.asarray, params)
        self.charset, self.config, self.meta = charset, config, meta or {}

    def sample(self, prefix, length=DEFAULTS.sample_len, temperature=DEFAULTS.temperature, seed=0):
        """Continue ``prefix`` (a non-empty str, or a list of them) by ``length`` characters sampled at
        ``temperature``. Returns the continuation(s) without the prefix; same seed, same text."""
        single = isinstance(prefix, str)
        prefixes = [prefix] if single else list(prefix)
        check_sample_args(prefixes, length, temperature)
        out = [None] * len(prefixes)
        key = jax.random.PRNGKey(seed)
        for n in sorted({len(p) for p in prefixes}):  # one batched call per prefix length
            idx = [i for i, p in enumerate(prefixes) if len(p) == n]
            ids = jnp.asarray(np.stack([self.charset.encode(prefixes[i]) for i in idx]))
            toks = model.sample(self.params, jax.random.fold_in(key, n), ids, int(length), temperature)
            for i, t in zip(idx, np.asarray(toks)):
                out[i] = self.charset.decode(t)
        return out[0] if single else out

    def bits_per_char(self, text):
        """Teacher-forced bits per character of ``text[1:]`` given what precedes each character."""
        if len(text) < 2:
            raise ValueError("text must hold at least two characters")
        ids = jnp.asarray(self.charset.encode(text)[None])
        return float(tf_loss(self.params, {"tokens": ids}, None)[0]) / np.log(2.0)


def check_sample_args(prefixes, length, temperature):
    """``ValueError`` naming the value for an empty prefix, a length below 1 or a temperature <= 0."""
    if not prefixes or any(not isinstance(p, str) or len(p) == 0 for p in prefixes):
        raise ValueError("every prefix must hold at least one character")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length {length!r}: give at least 1 character")
    if not (isinstance(temperature, (int, float)) and np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature {temperature!r}: must be a finite number > 0")


def load(path, step=None) -> CharLM:
    """The model in checkpoint directory ``path`` (a ``ckpt_tf`` / ``ckpt_ss`` run folder or an export)."""
    from jaxseq.training.checkpoint import load_for_sampling
    params, meta = load_for_sampling(path, step)
    require_kind(path, meta, "character LM")
    return CharLM(params, Charset.from_json(meta["charset"]), CharRNNConfig(**meta["model"]), meta)
