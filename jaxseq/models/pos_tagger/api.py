"""A trained tagger::

    from jaxseq import pos_tagger
    tagger = pos_tagger.load()                        # the shipped toy checkpoint (or a path)
    tagger.predict(["The dog read the book"])         # -> [[("The", "DET"), ("dog", "NN"), ...]]
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.errors import DataError
from jaxseq.models.pos_tagger import model as tm
from jaxseq.models.pos_tagger.data import Vocabs, encode
from jaxseq.models.pos_tagger.training import FAMILY

SHIPPED = {"toy": Path(__file__).resolve().parents[3] / "ckpt" / "pos_tagger" / "toy"}


class Tagger:
    def __init__(self, params, vocabs: Vocabs, config: tm.TaggerModelConfig, meta=None):
        self.params = jax.tree_util.tree_map(jnp.asarray, params)
        self.vocabs, self.config, self.meta = vocabs, config, meta or {}
        self.max_word_len = int(self.meta.get("config", {}).get("max_word_len", 20))
        self._logits = jax.jit(tm.logits)

    def predict(self, sentences):
        """Tag sentences (strings split on whitespace, or word lists): ``[[(word, tag)]]``. A str gives
        one list. An empty sentence is a ``ValueError``."""
        single = isinstance(sentences, str)
        sents = [sentences] if single else list(sentences)
        words = [s.split() if isinstance(s, str) else list(s) for s in sents]
        for s, w in zip(sents, words):
            if not w:
                raise ValueError(f"sentence {s!r} has no words; give at least one word")
        b = encode(words, self.vocabs, max_word_len=self.max_word_len)
        pred = np.asarray(self._logits(self.params, b).argmax(-1))
        out = [[(w, self.vocabs.tags[int(t)]) for w, t in zip(ws, p)] for ws, p in zip(words, pred)]
        return out[0] if single else out


def load(name_or_path="toy", step=None) -> Tagger:
    """A tagger checkpoint: ``"toy"`` (shipped) or a path."""
    from jaxseq.training.checkpoint import load_for_sampling
    path = SHIPPED.get(name_or_path, name_or_path)
    params, meta = load_for_sampling(path, step)
    if meta.get("family") != FAMILY:
        raise DataError(f"{path} is not a {FAMILY} checkpoint; give the ckpt folder of an "
                        f"experiments/pos_tagger.py run")
    return Tagger(params, Vocabs.from_json(meta["vocabs"]), tm.TaggerModelConfig(**meta["model"]), meta)
