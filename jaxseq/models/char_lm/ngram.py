"""Yardsticks for generated text that are independent of the network: an interpolated Witten-Bell
character n-gram model fit on real text, and the fraction of generated words that are real words."""
from __future__ import annotations

import collections
import math

import numpy as np

_PUNCT = ".,;:!?'\"-()[]&"


class CharNGram:
    """Interpolated Witten-Bell character n-gram model (Witten & Bell 1991; Chen & Goodman 1998 §2.5):

    P(c | h) = (C(h c) + N1+(h .) P(c | h')) / (C(h) + N1+(h .)), recursing down to an add-one unigram,
    where h' drops the oldest character. Used as an independent yardstick for generated text: a sample's
    bits/char under a model fit on the real training text.
    """

    def __init__(self, text, order=5, alphabet=None):
        self.order = order
        self.alphabet = sorted(set(alphabet if alphabet is not None else text))
        self.counts = [collections.Counter(text[i:i + n] for i in range(len(text) - n + 1))
                       for n in range(1, order + 1)]
        self.ctx_total, self.ctx_types = [], []
        for n in range(2, order + 1):
            tot, typ = collections.Counter(), collections.Counter()
            for g, c in self.counts[n - 1].items():
                tot[g[:-1]] += c
                typ[g[:-1]] += 1
            self.ctx_total.append(tot)
            self.ctx_types.append(typ)
        self.n_chars = sum(self.counts[0].values())
        self._cache = {}

    def prob(self, history, c):
        h = history[-(self.order - 1):] if self.order > 1 else ""
        key = (h, c)
        if key in self._cache:
            return self._cache[key]
        p = (self.counts[0].get(c, 0) + 1.0) / (self.n_chars + len(self.alphabet))
        for n in range(1, len(h) + 1):  # from the shortest context up
            ctx = h[-n:]
            tot = self.ctx_total[n - 1].get(ctx, 0)
            if tot:
                typ = self.ctx_types[n - 1][ctx]
                p = (self.counts[n].get(ctx + c, 0) + typ * p) / (tot + typ)
        self._cache[key] = p
        return p

    def bits_per_char(self, text, context=""):
        """Mean -log2 P of each character of ``text`` given what precedes it (``context`` first)."""
        full = context + text
        off = len(context)
        lp = [math.log2(self.prob(full[max(0, i - self.order + 1):i], full[i]))
              for i in range(off, len(full))]
        return -float(np.mean(lp))


def real_word_fraction(text, vocabulary):
    """Fraction of the whitespace-separated words of ``text`` (lower-cased, punctuation stripped) that
    occur in ``vocabulary`` (a set of words from real text)."""
    words = [w.strip(_PUNCT).lower() for w in text.split()]
    words = [w for w in words if w]
    return float(np.mean([w in vocabulary for w in words])) if words else 0.0


def word_set(text):
    return {w.strip(_PUNCT).lower() for w in text.split()} - {""}


def sample_quality(texts, contexts, lm: CharNGram, words):
    """Scores of generated ``texts`` (each continuing its ``contexts`` entry): mean bits/char under
    ``lm``, the fraction of real words (in ``words``), and distinct-word ratio (types / tokens), a guard
    against repetitive text, which an n-gram model scores well."""
    joined = " ".join(texts)
    tokens = joined.split()
    return {"sample_ngram_bpc": float(np.mean([lm.bits_per_char(t, c) for t, c in zip(texts, contexts)])),
            "sample_real_words": real_word_fraction(joined, words),
            "sample_distinct_words": len(set(tokens)) / max(len(tokens), 1)}
