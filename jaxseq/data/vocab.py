"""Text for word-level NMT: the PyTorch-tutorial normalisation, whitespace tokens and a vocabulary.

normalise: lowercase, strip accents (NFD, drop combining marks), split ``.!?`` off as their own tokens,
replace every other non-letter run by a space. ``"Je suis FÂCHÉ!"`` -> ``"je suis fache !"``.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Iterable, Sequence

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIALS = (PAD, SOS, EOS, UNK)
PAD_ID, SOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3

_PUNCT = re.compile(r"([.!?])")
_NON_LETTER = re.compile(r"[^a-z.!?]+")


def to_ascii(s: str) -> str:
    """Drop accents: NFD splits 'é' into 'e' + a combining mark (category Mn), which we remove."""
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def normalise(s: str) -> str:
    s = to_ascii(s.lower().strip())
    s = _PUNCT.sub(r" \1 ", s)
    s = _NON_LETTER.sub(" ", s)
    return " ".join(s.split())


def tokenize(s: str) -> list[str]:
    """Tokens of an already normalised string (``normalise`` then split on spaces)."""
    return normalise(s).split()


class Vocab:
    """Token <-> id map; ids 0..3 are <pad>, <sos>, <eos>, <unk>."""

    def __init__(self, itos: Sequence[str]):
        if tuple(itos[:4]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {tuple(itos[:4])}")
        self.itos = list(itos)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has duplicate tokens")

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 1) -> "Vocab":
        """Tokens seen at least ``min_count`` times, most frequent first (ties alphabetical)."""
        counts = Counter(t for s in sentences for t in s)
        words = sorted((w for w, c in counts.items() if c >= min_count and w not in SPECIALS),
                       key=lambda w: (-counts[w], w))
        return cls(list(SPECIALS) + words)

    def __len__(self):
        return len(self.itos)

    def encode(self, tokens: Sequence[str], eos: bool = True) -> list[int]:
        ids = [self.stoi.get(t, UNK_ID) for t in tokens]
        return ids + [EOS_ID] if eos else ids

    def decode(self, ids: Iterable[int], strip: bool = True) -> list[str]:
        """Tokens up to (not including) the first <eos>; <pad>/<sos> dropped when ``strip``."""
        out = []
        for i in ids:
            i = int(i)
            if strip and i == EOS_ID:
                break
            if strip and i in (PAD_ID, SOS_ID):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) else UNK)
        return out

    def to_json(self) -> list[str]:
        return list(self.itos)

    @classmethod
    def from_json(cls, itos) -> "Vocab":
        return cls(itos)
