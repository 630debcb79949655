"""Tagged sentences for the tagger: the PyTorch tutorial's two toy sentences, CoNLL-U files
(:mod:`jaxseq.data.conllu`), the vocabularies (words, characters, tags) and padded batches.

Words keep their case (the tutorial's ``"The"`` and ``"the"`` are different words; the character LSTM
sees the capital). Words of more than ``max_word_len`` characters are cut to that many for the character
LSTM (the word id is unchanged).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from jaxseq.data import conllu
from jaxseq.data.charset import Charset
from jaxseq.data.vocab import PAD_ID, Vocab
from jaxseq.errors import DataError

# the tutorial's training data (DET: determiner, NN: noun, V: verb)
TOY = [("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
       ("Everybody read that book".split(), ["NN", "V", "DET", "NN"])]


@dataclasses.dataclass
class Vocabs:
    words: Vocab
    chars: Charset
    tags: list

    @classmethod
    def build(cls, tagged, min_count=1):
        if not tagged:
            raise DataError("no tagged sentences to build the vocabularies from (an empty corpus)")
        words = Vocab.build((w for w, _ in tagged), min_count=min_count)
        chars = Charset.build(["".join(w) for w, _ in tagged])
        tags = sorted({t for _, ts in tagged for t in ts})
        return cls(words, chars, tags)

    def to_json(self):
        return {"words": self.words.to_json(), "chars": self.chars.to_json(), "tags": self.tags}

    @classmethod
    def from_json(cls, d):
        return cls(Vocab.from_json(d["words"]), Charset.from_json(d["chars"]), list(d["tags"]))


def load_tagged(path=None, tagset="upos"):
    """``([(words, tags)], source)``: the CoNLL-U file ``path``, or the tutorial's toy sentences when
    ``path`` is None."""
    if path is None:
        return [(list(w), list(t)) for w, t in TOY], "toy"
    return conllu.tagged(conllu.read(path), tagset, str(path)), str(path)


def encode(sentences, vocabs: Vocabs, tags=None, max_len=None, max_word_len=20):
    """Padded arrays for ``sentences`` (lists of words) and, if given, their ``tags``. An unknown tag is
    a :class:`DataError` naming it; unknown words become <unk> (characters: the unknown symbol)."""
    if any(len(s) == 0 for s in sentences):
        raise ValueError("an empty sentence cannot be tagged; give at least one word")
    T = max_len or max(len(s) for s in sentences)
    L = max(1, min(max_word_len, max(len(w) for s in sentences for w in s)))
    B = len(sentences)
    out = {"words": np.full((B, T), PAD_ID, np.int32), "word_mask": np.zeros((B, T), np.float32),
           "chars": np.zeros((B, T, L), np.int32), "char_mask": np.zeros((B, T, L), np.float32),
           "tags": np.zeros((B, T), np.int32)}
    tag_id = {t: i for i, t in enumerate(vocabs.tags)}
    for i, s in enumerate(sentences):
        if len(s) > T:
            raise ValueError(f"sentence {i} has {len(s)} words, more than {T}")
        out["words"][i, :len(s)] = vocabs.words.encode(s, eos=False)
        out["word_mask"][i, :len(s)] = 1.0
        for j, w in enumerate(s):
            ids = [vocabs.chars.index.get(c, 0) for c in w[:L]]
            out["chars"][i, j, :len(ids)] = ids
            out["char_mask"][i, j, :len(ids)] = 1.0
        if tags is not None:
            for j, t in enumerate(tags[i]):
                if t not in tag_id:
                    raise DataError(f"tag {t!r} (sentence {i}, word {s[j]!r}) is not in the training tag set "
                                    f"{vocabs.tags}")
                out["tags"][i, j] = tag_id[t]
    return out
