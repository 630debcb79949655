"""Character-level LSTM language model: a Shakespeare generator trained with truncated BPTT over
contiguous streams (:mod:`.generator`, ``experiments/char_lm.py``), and the scheduled-sampling
experiment (Bengio et al. 2015; ``experiments/scheduled_sampling.py``) on the same model.

    from jaxseq import char_lm
    lm = char_lm.load()                               # the shipped ckpt/char_lm/shakespeare (or a path)
    lm.generate("ROMEO:", n=4, length=200, temperature=0.8, seed=0)   # 4 texts, one jitted call
    lm.generate("ROMEO:", temperature=0)              # greedy
    lm.sample("ROMEO:", length=200, temperature=0.8)  # the continuation only (a list of prefixes -> a list)
    lm.bits_per_char("To be, or not to be")

``sample``'s defaults (length, temperature) are the experiment's (:class:`SSConfig`).
"""
from __future__ import annotations

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.charset import Charset
from jaxseq.data.files import require_kind
from jaxseq.errors import DataError
from jaxseq.models.char_lm import generator, model
from jaxseq.models.char_lm.generator import GenConfig
from jaxseq.models.char_lm.model import CharRNNConfig, init, make_ss_loss, ss_loss, tf_loss
from jaxseq.models.char_lm.ngram import CharNGram, real_word_fraction, word_set
from jaxseq.models.char_lm.training import MODES, SSConfig, Yardstick, check_corpus, eps_schedule, train

DEFAULTS = SSConfig()
SHIPPED_ROOT = Path(__file__).resolve().parents[3] / "ckpt" / "char_lm"   # shipped checkpoints by name
DEFAULT_CHECKPOINT = "shakespeare"
GEN_LENGTH, GEN_TEMPERATURE = 300, 0.8     # generate()'s defaults, the CLI's too

__all__ = ["CharLM", "load", "generator", "GenConfig", "resolve_checkpoint", "check_sample_args", "check_corpus", "CharRNNConfig", "SSConfig", "init",
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

    def generate(self, prime, n=1, length=GEN_LENGTH, temperature=GEN_TEMPERATURE, seed=0):
        """``n`` texts that start with ``prime`` and go on for ``length`` characters, drawn at
        ``temperature`` (0: greedy, every text the same), in one jitted call. Same seed, same texts.
        ValueError naming the characters of ``prime`` that the model does not know."""
        check_generate_args(self.charset, prime, n, length, temperature)
        ids = jnp.asarray(np.tile(self.charset.encode(prime), (int(n), 1)))
        toks = model.sample_jit(self.params, jax.random.PRNGKey(seed), ids, int(length),
                                jnp.float32(temperature), allow_unknown=False)
        return [prime + self.charset.decode(t) for t in np.asarray(toks)]

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


def check_generate_args(charset: Charset, prime, n, length, temperature):
    """``ValueError`` naming the value: an empty prime or one with characters outside the model's
    vocabulary, ``n`` or ``length`` below 1, a temperature below 0 or not finite."""
    if not isinstance(prime, str) or not prime:
        raise ValueError(f"prime {prime!r}: give at least one character")
    unknown = sorted(set(prime) - set(charset.chars[1:]))
    if unknown:
        raise ValueError(f"prime {prime!r}: characters {''.join(unknown)!r} are not in the model's "
                         f"vocabulary of {charset.size - 1} characters ({''.join(charset.chars[1:])!r})")
    for name, v in (("n", n), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} {v!r}: give an integer of at least 1")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or \
            not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature {temperature!r}: give a finite number >= 0 (0 is greedy)")


def resolve_checkpoint(name_or_path=DEFAULT_CHECKPOINT):
    """A shipped name (``"shakespeare"``: ``ckpt/char_lm/shakespeare`` of this checkout, found from any
    working directory) or a checkpoint directory."""
    name = str(name_or_path)
    if "/" not in name and os.sep not in name and not Path(name).is_dir():
        if (SHIPPED_ROOT / name).is_dir():
            return SHIPPED_ROOT / name
        have = sorted(p.name for p in SHIPPED_ROOT.iterdir() if p.is_dir()) if SHIPPED_ROOT.is_dir() else []
        raise DataError(f"no character LM checkpoint {name!r}: not a directory and not a shipped name "
                        f"(shipped: {', '.join(have) or 'none'} in {SHIPPED_ROOT}); give a checkpoint folder")
    return name_or_path


def load(path=DEFAULT_CHECKPOINT, step=None) -> CharLM:
    """The model in checkpoint directory ``path``: a shipped name (default ``"shakespeare"``), a run of
    ``experiments/char_lm.py`` or ``scheduled_sampling.py`` (``ckpt_tf`` / ``ckpt_ss``), or an export."""
    from jaxseq.training.checkpoint import load_for_sampling
    path = resolve_checkpoint(path)
    params, meta = load_for_sampling(path, step)
    require_kind(path, meta, "character LM")
    return CharLM(params, Charset.from_json(meta["charset"]), CharRNNConfig(**meta["model"]), meta)
