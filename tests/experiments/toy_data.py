"""Tiny data files for the script tests that need no real data: a stroke-3 set and a character cache."""
from __future__ import annotations

import numpy as np

from jaxseq.data import shakespeare, sketches as sd


def sketch_npz(path, n=8, seed=0):
    """``n`` random sketches of 3 to 15 points in each split, as a stroke-3 npz at ``path``."""
    rng = np.random.default_rng(seed)

    def one(k):
        s = np.c_[rng.integers(-20, 21, (k, 2)), rng.random(k) < 0.2]
        s[-1, 2] = 1
        return s
    return sd.save_npz(path, {split: [one(k) for k in rng.integers(3, 16, n)] for split in sd.SPLITS})


def play_cache(path, lines=400):
    """A synthetic play as a character cache (``--data`` of scheduled_sampling.py)."""
    text = "".join(f"KING {i % 7}:\nTo be, or not to be, that is the question {i}.\n\n" for i in range(lines))
    return shakespeare.write_cache(path, *shakespeare.encode_text(text))
