"""jaxseq.metrics against sacrebleu itself and known values."""
from __future__ import annotations

import math

import pytest
import sacrebleu

from jaxseq import metrics

HYPS = ["je suis froid .", "il est grand .", "nous sommes la ."]
REFS = ["j ai froid .", "il est grand .", "nous sommes ici ."]


def test_bleu_is_sacrebleu_corpus_bleu_and_returns_a_number():
    b = metrics.bleu(HYPS, REFS)
    assert isinstance(b, float)
    assert b == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS], force=True).score)
    assert metrics.bleu(REFS, REFS) == pytest.approx(100.0)
    assert 0.0 < b < 100.0


def test_bleu_prints_nothing(capsys):
    metrics.bleu(HYPS, REFS)
    metrics.chrf(HYPS, REFS)
    assert capsys.readouterr().out == ""


def test_chrf_matches_sacrebleu():
    assert metrics.chrf(HYPS, REFS) == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS]).score)
    assert metrics.chrf(REFS, REFS) == pytest.approx(100.0)


def test_length_mismatch_is_an_error_naming_the_counts():
    with pytest.raises(ValueError, match="2 hypotheses but 3 references"):
        metrics.bleu(HYPS[:2], REFS)


def test_bits_per_char():
    assert metrics.bits_per_char(math.log(2.0)) == pytest.approx(1.0)
    assert metrics.bits_per_char(0.0) == 0.0
    assert metrics.bits_per_char(math.log(256.0)) == pytest.approx(8.0)
