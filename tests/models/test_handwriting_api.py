"""The public facade on the shipped checkpoints, as a notebook user calls it (from any folder)."""
from __future__ import annotations

import numpy as np
import pytest

from jaxseq import handwriting


@pytest.mark.slow
def test_shipped_checkpoints_write_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hand = handwriting.load()
    assert hand.config.synthesis and len(hand.primes) == 8
    lines = hand.write(["hello world"] * 2, bias=1.0, style=3, seed=0)
    again = hand.write(["hello world"] * 2, bias=1.0, style=3, seed=0)
    assert len(lines) == 2 and all(l.ndim == 2 and l.shape[1] == 3 and len(l) > 20 for l in lines)
    np.testing.assert_array_equal(lines[0], again[0])                         # seeded
    assert "<path" in open(hand.save_svg(lines, "hello.svg")).read()
    assert (tmp_path / hand.save_png(lines, "hello.png")).stat().st_size > 0
    with pytest.warns(UserWarning, match="not in the model's charset"):
        hand.write(["snow ☃"], max_steps=60)
    pred = handwriting.load(task="prediction")
    assert all(len(l) >= 40 and l[-1, 2] == 1 for l in pred.write(["", ""], max_steps=40))  # at a pen-up
    with pytest.raises(ValueError, match="synthesis"):
        pred.write([""], style=0)
