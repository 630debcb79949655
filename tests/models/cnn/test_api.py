"""The CNN facade on the shipped Fashion-MNIST classifier: loads from any working directory, takes uint8
or [0, 1] floats in every layout, names bad inputs; and a real-data accuracy check when data is here."""
from __future__ import annotations

import numpy as np
import pytest

from jaxseq.errors import DataError
from jaxseq.models.cnn import api

pytestmark = pytest.mark.skipif("fashion-mnist" not in api.shipped(), reason="ckpt/cnn/fashion-mnist absent")


def test_load_anywhere_and_layouts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clf = api.load()
    assert clf.classes[9] == "Ankle boot" and clf.config.size == 28
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    p = clf.predict(u8)
    assert p.shape == (7,)
    np.testing.assert_array_equal(clf.predict(u8.astype(np.float32) / 255.0), p)
    np.testing.assert_array_equal(clf.predict(u8.reshape(7, 784)), p)
    np.testing.assert_array_equal(clf.predict(np.pad(u8, ((0, 0), (2, 2), (2, 2)))[..., None]), p)
    pr = clf.predict_proba(u8)
    np.testing.assert_allclose(pr.sum(1), 1.0, rtol=1e-5)
    assert clf.features(u8[:0]).shape == (0, 84)


def test_bad_inputs():
    clf = api.load()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        clf.predict(np.full((2, 28, 28), 3.0, np.float32))
    with pytest.raises(ValueError, match="expected"):
        clf.predict(np.zeros((2, 28, 28, 3), np.float32))
    with pytest.raises(DataError, match="no CNN checkpoint"):
        api.load("no/such/dir")


def test_shipped_accuracy_on_real_test_set(data_dir):
    from jaxseq.data import mnist
    x, y = mnist.load_images("fashion-mnist", "test", data_dir)
    clf = api.load()
    acc = float((clf.predict(x) == y).mean())
    assert acc == pytest.approx(clf.meta["test_acc"], abs=1e-6) and acc > 0.85
