"""A dialogue corpus from tiny Shakespeare: line -> reply pairs of consecutive speaker turns.

The PyTorch chatbot tutorial trains on the Cornell Movie-Dialogs corpus (:mod:`jaxseq.data.cornell`); where
that is not available, tiny Shakespeare is a real dialogue corpus with the same structure. Its speeches are
blocks separated by a blank line, each opening with a ``NAME:`` line::

    First Citizen:
    Before we proceed any further, hear me speak.

    All:
    Speak, speak.

A pair is the **last line** of one speech and the **first line** of the next speech by another speaker (the
words just said and the words that answer them). Both sides are normalised as in the tutorial
(:func:`jaxseq.data.vocab.normalise`), then the tutorial's filters apply: fewer than ``max_words`` tokens on
both sides (``MAX_LENGTH = 10``), and rare-word trimming (:func:`trim_rare`: words seen fewer than
``min_count = 3`` times leave the vocabulary, and so do the pairs that contain them).
"""
from __future__ import annotations

import collections
import dataclasses
import re

from jaxseq.data import shakespeare
from jaxseq.data.vocab import Vocab, normalise
from jaxseq.errors import DataError

MAX_WORDS = 10      # the tutorial's MAX_LENGTH: keep pairs with fewer tokens than this on both sides
MIN_COUNT = 3       # the tutorial's MIN_COUNT for trimming rare words
_SPEAKER = re.compile(r"^([A-Z][A-Za-z0-9 '&.,-]*):\s*$")


@dataclasses.dataclass
class DialogueReport:
    speeches: int = 0
    pairs: int = 0          # consecutive turns by different speakers
    short: int = 0          # of those, pairs under the length limit
    kept: int = 0           # after rare-word trimming
    vocab: int = 0          # words kept (without the special tokens)
    words_before_trim: int = 0

    def __str__(self):
        return (f"{self.speeches} speeches, {self.pairs} line->reply pairs, {self.short} with both sides "
                f"under the length limit, {self.kept} after trimming rare words ({self.words_before_trim} "
                f"-> {self.vocab} words)")


def speeches(text, source="text"):
    """``[(speaker, [lines])]`` from a play text of ``NAME:`` blocks (blank-line separated). A block that
    does not open with a speaker line is skipped (stage directions, headers). Empty corpus -> DataError."""
    out = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = [ln.strip() for ln in block.strip().split("\n") if ln.strip()]
        if len(lines) < 2:
            continue
        m = _SPEAKER.match(lines[0])
        if m:
            out.append((m.group(1), lines[1:]))
    if not out:
        raise DataError(f"{source}: no speeches found; expected blocks of a 'NAME:' line followed by the "
                        f"speech, separated by blank lines (tiny Shakespeare's layout)")
    return out


def turn_pairs(blocks):
    """Line -> reply pairs: the last line of each speech and the first line of the next one, when the
    speakers differ. Returns raw (not normalised) string pairs."""
    return [(a_lines[-1], b_lines[0]) for (a, a_lines), (b, b_lines) in zip(blocks, blocks[1:]) if a != b]


def filter_length(pairs, max_words=MAX_WORDS):
    """Normalised pairs with ``0 < tokens < max_words`` on both sides (the tutorial's ``filterPairs``)."""
    out = []
    for q, a in pairs:
        q, a = normalise(q), normalise(a)
        if 0 < len(q.split()) < max_words and 0 < len(a.split()) < max_words:
            out.append((q, a))
    return out


def trim_rare(pairs, min_count=MIN_COUNT):
    """The tutorial's ``trimRareWords``: words seen fewer than ``min_count`` times in ``pairs`` are dropped
    from the vocabulary, and so is every pair with such a word on either side. Returns ``(pairs, Vocab)``
    (the vocabulary of the kept pairs' words, most frequent first)."""
    counts = collections.Counter(w for p in pairs for s in p for w in s.split())
    keep = {w for w, c in counts.items() if c >= min_count}
    kept = [(q, a) for q, a in pairs if all(w in keep for s in (q, a) for w in s.split())]
    return kept, Vocab.build([s.split() for p in kept for s in p], 1)


def from_raw_pairs(raw, max_words=MAX_WORDS, min_count=MIN_COUNT, speeches=0, source="text"):
    """``(pairs, vocab, report)`` from raw (line, reply) strings: length filter, then trimming."""
    short = filter_length(raw, max_words)
    kept, vocab = trim_rare(short, min_count)
    report = DialogueReport(speeches, len(raw), len(short), len(kept), len(vocab) - 4,
                            len({w for p in short for s in p for w in s.split()}))
    if not kept:
        raise DataError(f"{source}: no line->reply pair is left after filtering ({report}); give a longer "
                        f"dialogue text, a larger max_words or a smaller min_count")
    return kept, vocab, report


def build_pairs(text, max_words=MAX_WORDS, min_count=MIN_COUNT, source="text"):
    """``(pairs, vocab, report)`` from a play text: speeches -> turn pairs -> length filter -> trimming."""
    blocks = speeches(text, source)
    return from_raw_pairs(turn_pairs(blocks), max_words, min_count, len(blocks), source)


def load_shakespeare(data_dir=None, max_words=MAX_WORDS, min_count=MIN_COUNT):
    """The tiny-Shakespeare dialogue pairs (``<data>/tinyshakespeare/input.txt``)."""
    path = shakespeare.text_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as e:
        raise DataError(f"{path}: cannot read it as UTF-8 text ({e})") from e
    return build_pairs(text, max_words, min_count, source=str(path))
