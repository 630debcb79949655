"""Fréchet distance against closed forms (diagonal Gaussians; a commuting-free float64 numpy reference
through the eigenvalues of the non-symmetric product), and the shipped feature classifier's contract."""
from __future__ import annotations

import numpy as np
import pytest

from jaxseq.models.cnn import api, frechet


def test_diagonal_gaussians_closed_form():
    rng = np.random.default_rng(0)
    mu_a, mu_b = rng.normal(size=6), rng.normal(size=6)
    va, vb = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    want = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(va) - np.sqrt(vb)) ** 2).sum()
    got = frechet.frechet_from_stats(mu_a, np.diag(va), mu_b, np.diag(vb))
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_full_covariances_vs_eigen_reference():
    rng = np.random.default_rng(1)
    d = 12
    a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    ca, cb = a @ a.T / d + 0.1 * np.eye(d), b @ b.T / d + 0.1 * np.eye(d)
    mu_a, mu_b = rng.normal(size=d), rng.normal(size=d)
    # tr sqrt(Ca Cb) = sum sqrt(eigenvalues of Ca Cb) (real, positive: similar to a PSD matrix)
    ev = np.linalg.eigvals(ca @ cb)
    want = ((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(ev.real).sum()
    assert frechet.frechet_from_stats(mu_a, ca, mu_b, cb) == pytest.approx(want, rel=1e-10)
    assert frechet.frechet_from_stats(mu_a, ca, mu_a, ca) == pytest.approx(0.0, abs=1e-9)


def test_from_samples_and_errors():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4000, 3))
    y = rng.normal(size=(4000, 3)) * 2.0 + 1.0
    fd = frechet.frechet_distance(x, y)
    mu_x, c_x = frechet.gaussian_stats(x)
    mu_y, c_y = frechet.gaussian_stats(y)
    assert fd == pytest.approx(frechet.frechet_from_stats(mu_x, c_x, mu_y, c_y))
    assert fd == pytest.approx(3 * 1.0 + 3 * (1 - 2) ** 2, rel=0.1)   # population value 6
    assert frechet.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet.frechet_distance(x, y[:, :2])
    with pytest.raises(ValueError, match="N >= 2"):
        frechet.gaussian_stats(x[:1])


@pytest.mark.skipif("fashion-mnist" not in api.shipped(), reason="ckpt/cnn/fashion-mnist not shipped yet")
def test_shipped_classifier_contract():
    rng = np.random.default_rng(3)
    x = rng.random((5, 28, 28)).astype(np.float32)
    f = frechet.features(x)
    assert f.dtype == np.float64 and f.shape == (5, frechet.classifier().config.feature_dim)
    np.testing.assert_allclose(frechet.features(x[..., None]), f)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2)))                      # 32x32 inputs: centre-cropped
    np.testing.assert_allclose(frechet.features(padded), f)
    np.testing.assert_allclose(frechet.features(x.reshape(5, 784)), f)
    labels = frechet.classify(x)
    assert labels.shape == (5,) and labels.min() >= 0 and labels.max() <= 9
    ref = frechet.reference()
    assert 0 < ref < 50 and np.isfinite(ref)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        frechet.features(x * 2 - 1)
