"""LSTM POS tagger: shapes with and without the character LSTM, padding invariance, a tiny overfit on the
tutorial's toy sentences, encoding errors, and the shipped toy checkpoint."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxseq.errors import DataError
from jaxseq.models import pos_tagger as P


@pytest.fixture(scope="module")
def vocabs():
    return P.Vocabs.build(P.TOY)


@pytest.mark.parametrize("use_chars", [True, False])
def test_shapes(vocabs, use_chars):
    cfg = P.TaggerModelConfig(len(vocabs.words), vocabs.chars.size, len(vocabs.tags), 8, 12, use_chars, 4, 6)
    p = P.init(jax.random.PRNGKey(0), cfg)
    assert ("char_lstm" in p) == use_chars
    b = P.encode([w for w, _ in P.TOY], vocabs, [t for _, t in P.TOY])
    assert b["words"].shape == (2, 5) and b["chars"].shape == (2, 5, 9)
    assert P.logits(p, b).shape == (2, 5, 3)


def test_padding_does_not_change_real_words(vocabs):
    cfg = P.TaggerModelConfig(len(vocabs.words), vocabs.chars.size, len(vocabs.tags), 8, 12, True, 4, 6)
    p = P.init(jax.random.PRNGKey(1), cfg)
    s = ["Everybody", "read", "that", "book"]
    alone = P.logits(p, P.encode([s], vocabs))
    padded = P.logits(p, P.encode([s], vocabs, max_len=7, max_word_len=20))
    np.testing.assert_allclose(alone[0], padded[0, :4], rtol=1e-5, atol=1e-6)


def test_encode_unknowns_and_errors(vocabs):
    b = P.encode([["The", "zebra"]], vocabs)
    assert b["words"][0, 1] == 3                      # <unk>
    assert b["char_mask"][0, 1].sum() == 5
    with pytest.raises(DataError, match="'ADJ'"):
        P.encode([["The", "dog"]], vocabs, [["DET", "ADJ"]])
    with pytest.raises(ValueError, match="empty sentence"):
        P.encode([[]], vocabs)
    with pytest.raises(DataError, match="empty corpus"):
        P.Vocabs.build([])


@pytest.mark.parametrize("use_chars", [True, False])
def test_overfit_toy(tmp_path, vocabs, use_chars):
    cfg = P.TaggerConfig(use_chars=use_chars, steps=40, embed=8, hidden=16, char_embed=4, char_hidden=8)
    params, _, _ = P.train(cfg, P.TOY, vocabs, tmp_path / "ck", progress=False)
    assert P.accuracy(params, P.TOY, vocabs) == 1.0
    batch = P.encode([w for w, _ in P.TOY], vocabs, [t for _, t in P.TOY])
    assert float(P.loss_fn(params, batch)[0]) < 0.1


def test_shipped_toy_checkpoint():
    tagger = P.load("toy")
    assert tagger.predict("The dog ate the apple") == [("The", "DET"), ("dog", "NN"), ("ate", "V"),
                                                        ("the", "DET"), ("apple", "NN")]
    with pytest.raises(ValueError, match="no words"):
        tagger.predict(["  "])
