"""The trained word vectors of a run, with cosine neighbours and a 2-D PCA projection::

    from jaxseq import embeddings
    wv = embeddings.load()                     # the shipped tiny-Shakespeare vectors (or a run's ckpt folder)
    wv.neighbours(["king", "love"], k=8)      # -> {"king": [("queen", 0.71), ...], ...}
    xy = wv.project(["king", "queen", "man"])  # [3, 2]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxseq.data.vocab import SPECIALS, Vocab
from jaxseq.errors import DataError
from jaxseq.models.embeddings.model import EmbedModelConfig
from jaxseq.models.embeddings.training import FAMILY, nearest, pca_2d


SHIPPED = {"shakespeare": Path(__file__).resolve().parents[3] / "ckpt" / "embeddings" / "shakespeare"}


class WordVectors:
    def __init__(self, embed, vocab: Vocab, config: EmbedModelConfig | None = None, meta=None, params=None):
        self.embed = np.asarray(embed, np.float32)
        self.vocab, self.config, self.meta = vocab, config, meta or {}
        self.params = params          # the whole model (output layer too), when loaded from a checkpoint

    def ids(self, words):
        """Ids of ``words``; a word outside the vocabulary is a ``ValueError`` naming it."""
        if isinstance(words, str):
            words = [words]
        out = []
        for w in words:
            i = self.vocab.stoi.get(w)
            if i is None or w in SPECIALS:
                raise ValueError(f"unknown word {w!r}: not in the {len(self.vocab) - 4}-word vocabulary "
                                 f"of this model")
            out.append(i)
        return out

    def vector(self, word):
        return self.embed[self.ids([word])[0]]

    def neighbours(self, words, k=8):
        """``{word: [(neighbour, cosine)] * k}``, specials excluded."""
        if k < 1:
            raise ValueError(f"k = {k}: must be at least 1")
        words = [words] if isinstance(words, str) else list(words)
        res = nearest(self.embed, self.ids(words), k, exclude=range(len(SPECIALS)))
        return {w: [(self.vocab.itos[j], c) for j, c in r] for w, r in zip(words, res)}

    def similarity(self, a, b):
        u, v = self.vector(a), self.vector(b)
        return float(u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-12))

    def project(self, words):
        """``[len(words), 2]`` PCA coordinates of these words (the components fitted on them)."""
        return pca_2d(self.embed[self.ids(words)])


def load(name_or_path="shakespeare", step=None) -> WordVectors:
    """Word vectors: ``"shakespeare"`` (the shipped skip-gram vectors) or a checkpoint folder (a run's
    ``ckpt`` folder or an export)."""
    from jaxseq.training.checkpoint import load_for_sampling
    path = SHIPPED.get(name_or_path, name_or_path)
    params, meta = load_for_sampling(path, step)
    if meta.get("family") != FAMILY:
        raise DataError(f"{path} is not a {FAMILY} checkpoint; give the ckpt folder of an "
                        f"experiments/embeddings.py run")
    return WordVectors(params["embed"], Vocab.from_json(meta["vocab"]), EmbedModelConfig(**meta["model"]),
                       meta, params)
