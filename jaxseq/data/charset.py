"""Character vocabularies for text-conditioned models (the Graves synthesis network's one-hot input).

A :class:`Charset` is built from training texts: every character seen at least ``min_count`` times gets an
id, plus one "unknown" symbol (id 0) that absorbs everything else. Encoding never fails: unseen characters
map to the unknown id and a warning names them. :meth:`Charset.substitute` first replaces each unseen
character by its nearest known one (other case, plain look-alike, letter without accents), which the
handwriting facade does before writing. It round-trips through JSON so a checkpoint's ``meta`` carries the
exact vocabulary the weights were trained with.
"""
from __future__ import annotations

import collections
import unicodedata
import warnings

import numpy as np

UNKNOWN = "\ufffd"  # the Unicode replacement character stands for "any character not in the set"
#: typographic characters and their plain look-alikes (tried by :meth:`Charset.substitute`)
LOOKALIKES = {"\u2018": "'", "\u2019": "'", "\u201a": ",", "\u201c": '"', "\u201d": '"', "\u201e": '"',
              "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " ", "\u2026": ".", "\u00b4": "'",
              "`": "'", "\t": " "}


class Charset:
    def __init__(self, chars):
        """``chars``: the known characters in id order; id 0 is reserved for :data:`UNKNOWN`."""
        chars = [c for c in chars if c != UNKNOWN]
        if len(set(chars)) != len(chars):
            raise ValueError("charset has duplicate characters")
        self.chars = [UNKNOWN] + list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def build(cls, texts, min_count=1):
        """Characters appearing at least ``min_count`` times in ``texts``, sorted."""
        counts = collections.Counter(c for t in texts for c in t)
        return cls(sorted(c for c, n in counts.items() if n >= min_count))

    @property
    def size(self) -> int:
        return len(self.chars)

    unknown_id = 0

    def encode(self, text) -> np.ndarray:
        """text -> int32 ids [len(text)]; characters not in the set become the unknown id (with a warning)."""
        ids = np.array([self.index.get(c, 0) for c in text], np.int32)
        missing = sorted({c for c in text if c not in self.index})
        if missing:
            warnings.warn(f"characters {missing!r} in {text!r} are not in the model's charset; they are "
                          f"written as the unknown symbol {UNKNOWN!r} (U+FFFD)", stacklevel=2)
        return ids

    def nearest(self, c) -> str:
        """The character the model writes for ``c``: ``c`` itself when known, else the first known of
        its other case (Q -> q), its plain look-alike (curly quotes, dashes), its letter without accents
        (é -> e), else :data:`UNKNOWN`."""
        if c in self.index:
            return c
        for cand in (c.swapcase(), LOOKALIKES.get(c, ""),
                     unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode()):
            if len(cand) == 1 and cand in self.index:
                return cand
            if len(cand) == 1 and cand.swapcase() in self.index:
                return cand.swapcase()
        return UNKNOWN

    def substitute(self, texts):
        """``(texts with every unknown character replaced by :meth:`nearest`, {character: replacement})``
        for a list of texts; the dict is empty when every character is known."""
        subs = {c: self.nearest(c) for t in texts for c in set(t) if c not in self.index}
        return ["".join(subs.get(c, c) for c in t) for t in texts], dict(sorted(subs.items()))

    @staticmethod
    def describe(subs) -> str:
        """One line naming the replaced characters and what they map to, e.g. ``'Q' -> 'q', 'é' -> 'e'``."""
        return ", ".join(f"{c!r} -> {'the unknown symbol' if r == UNKNOWN else repr(r)}"
                         for c, r in subs.items())

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids if 0 <= int(i) < self.size)

    def to_json(self) -> dict:
        return {"chars": self.chars[1:]}

    @classmethod
    def from_json(cls, d) -> "Charset":
        return cls(d["chars"])

    def __repr__(self):
        return f"Charset({self.size} symbols: {''.join(self.chars[1:])!r})"


def encode_batch(charset: Charset, texts, max_len):
    """texts -> (ids [B, max_len] int32 padded with -1, mask [B, max_len]).

    ``-1`` one-hot encodes to the zero vector, so padding adds nothing to the Graves window.
    """
    ids = np.full((len(texts), max_len), -1, np.int32)
    mask = np.zeros((len(texts), max_len), np.float32)
    for i, t in enumerate(texts):
        e = charset.encode(t)
        if len(e) > max_len:
            raise ValueError(f"text {t!r} has {len(e)} characters, more than the text bucket {max_len}")
        ids[i, :len(e)] = e
        mask[i, :len(e)] = 1.0
    return ids, mask
