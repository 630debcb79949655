"""Shapes bucketed for cold starts (issue 15): a second sentence of a similar length reuses the compiled
program, and the padding changes no value."""
from __future__ import annotations

import jax
import numpy as np

from jaxseq.data.vocab import EOS_ID
from jaxseq.models.nmt import model as nmt
from jaxseq.models.nmt import translate as decode

WORDS = ["<pad>", "<sos>", "<eos>", "<unk>"] + list("abcdefgh")
CFG = nmt.NMTConfig(src_vocab=12, tgt_vocab=12, emb=8, hidden=16, layers=2, dropout=0.0, score="general",
                    bidirectional=True)


def test_nmt_attention_is_bucketed_and_equal_to_the_exact_shapes():
    params = nmt.init(jax.random.PRNGKey(0), CFG)
    tr = decode.Translator(params, CFG, {"src_vocab": WORDS, "tgt_vocab": WORDS, "lang": "toy"})
    rng = np.random.default_rng(0)
    sizes = []
    for S, T in ((3, 2), (5, 4), (7, 6)):            # all in the first length bucket (8)
        src = list(rng.integers(4, 12, S - 1)) + [EOS_ID]
        out = list(rng.integers(4, 12, T - 1))
        got = tr.attention(src, out)
        exact = np.asarray(decode.attention_for(params, CFG, np.asarray([src], np.int32),
                                                np.ones((1, S), np.float32),
                                                np.asarray([out + [EOS_ID]], np.int32)))[0]
        assert got.shape == (T, S)
        np.testing.assert_allclose(got, exact, rtol=1e-5, atol=1e-6)
        sizes.append(decode._forced._cache_size())
    # the bucketed call compiled once for the three sentences (each exact call adds one program)
    assert sizes[1] - sizes[0] == sizes[2] - sizes[1] == 1
