"""Line -> reply pairs from tiny-Shakespeare speaker turns: parsing, pairing, the tutorial's filters."""
from __future__ import annotations

import pytest

from jaxseq.data import dialogue
from jaxseq.errors import DataError

PLAY = """First Citizen:
Before we proceed any further, hear me speak.
You are all resolved rather to die?

All:
Speak, speak.
Resolved. resolved.

First Citizen:
First, you know Caius Marcius is chief enemy to the people, and he is the one we hate.

First Citizen:
We know't, we know't.

Second Citizen:
One word, good citizens.
"""


def test_speeches_and_turn_pairs():
    blocks = dialogue.speeches(PLAY)
    assert [b[0] for b in blocks] == ["First Citizen", "All", "First Citizen", "First Citizen",
                                      "Second Citizen"]
    pairs = dialogue.turn_pairs(blocks)
    # last line of a speech -> first line of the next speech by another speaker (same speaker: no pair)
    assert pairs == [("You are all resolved rather to die?", "Speak, speak."),
                     ("Resolved. resolved.", "First, you know Caius Marcius is chief enemy to the "
                                             "people, and he is the one we hate."),
                     ("We know't, we know't.", "One word, good citizens.")]


def test_length_filter_and_trimming():
    pairs = dialogue.filter_length(dialogue.turn_pairs(dialogue.speeches(PLAY)), max_words=10)
    assert pairs == [("you are all resolved rather to die ?", "speak speak ."),
                     ("we know t we know t .", "one word good citizens .")]   # the 17-token reply goes
    kept, vocab = dialogue.trim_rare(pairs + [("speak .", "one word .")], min_count=2)
    # 'speak', '.', 'one', 'word' are seen twice or more; every pair with a rarer word is dropped
    assert kept == [("speak .", "one word .")]
    assert set(vocab.itos[4:]) == {"speak", ".", "one", "word"}


def test_errors():
    with pytest.raises(DataError, match="no speeches"):
        dialogue.speeches("just prose\nwithout speakers\n")
    with pytest.raises(DataError, match="no line->reply pair"):
        dialogue.build_pairs(PLAY, max_words=3)


def test_real_shakespeare(data_dir):
    pairs, vocab, report = dialogue.load_shakespeare(data_dir)
    assert report.speeches > 7000 and 1000 < len(pairs) < report.short < report.pairs
    assert all(len(s.split()) < 10 for p in pairs for s in p)
    counts = {}
    for p in pairs:
        for s in p:
            for w in s.split():
                counts[w] = counts.get(w, 0) + 1
    assert len(vocab) == 4 + len(counts)
