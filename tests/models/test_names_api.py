"""The names facade on the shipped checkpoints (no data set needed): predict, generate, NLL, and the
errors a user can make."""
from __future__ import annotations

import numpy as np
import pytest

from jaxseq import names
from jaxseq.errors import DataError


@pytest.fixture(scope="module")
def clf():
    return names.load()


@pytest.fixture(scope="module")
def gen():
    return names.load("generator")


def test_predict_top3(clf):
    (top,) = clf.predict(["Schmidhuber"])
    assert len(top) == 3 and len(clf.languages) == 18
    assert [lp for _, lp in top] == sorted((lp for _, lp in top), reverse=True) and top[0][1] <= 0
    out = clf.predict(["Nakamura", "Müller", "O'Brien"], top=1)   # accents folded
    assert out[0][0][0] == "Japanese" and len(out) == 3
    lp = clf.log_probs(["Abel"])
    assert lp.shape == (1, 18) and np.isclose(np.exp(lp).sum(), 1, atol=1e-4)


def test_generate(gen):
    out = gen.generate("Russian", "RUS", temperature=0.5, seed=0)
    assert [n[0] for n in out] == ["R", "U", "S"] and all(n.isalpha() or "'" in n for n in out)
    assert out == gen.generate("russian", "RUS", temperature=0.5, seed=0)     # same seed, same names
    many = gen.generate("Japanese", ["Ta", ""], n=8, seed=1)
    assert len(many) == 16 and all(n.startswith("Ta") for n in many[:8])
    ja, ru = gen.nll(["Tanaka"], "Japanese")[0], gen.nll(["Tanaka"], "Russian")[0]
    assert ja < ru    # the language input matters


def test_user_errors(clf, gen):
    with pytest.raises(ValueError, match="'3'"):
        clf.predict(["Smith3"])
    with pytest.raises(ValueError, match="top 0"):
        clf.predict(["Abel"], top=0)
    with pytest.raises(ValueError, match="unknown language 'Klingon'"):
        gen.generate("Klingon")
    with pytest.raises(ValueError, match="give a language"):
        gen.generate(None)
    with pytest.raises(ValueError, match="temperature 0"):
        gen.generate("Irish", temperature=0)
    with pytest.raises(DataError, match="no names checkpoint 'nothing'"):
        names.load("nothing")
    with pytest.raises(DataError, match="names generator checkpoint, not a names classifier one"):
        names.load_classifier("generator")
