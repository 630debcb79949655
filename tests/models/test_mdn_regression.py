"""Bishop's inverse problem: the 1-D mixture log-likelihood against scipy, the data generator, the exact
conditional, and that a short MDN fit beats a single Gaussian on the multimodal conditional."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from jaxseq import mdn_regression as toy
from jaxseq.nn import mixtures as mdn


def test_gmm_log_prob_matches_scipy():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(7, 3 * 4)) * 2
    y = rng.normal(size=7) * 2
    p = mdn.split_gmm(jnp.asarray(raw, jnp.float32), 4)
    logit, mu, ls = np.split(raw, 3, -1)
    logpi = logit - logsumexp(logit, -1, keepdims=True)
    ref = logsumexp(logpi + stats.norm.logpdf(y[:, None], mu, np.exp(ls)), -1)
    np.testing.assert_allclose(mdn.gmm_log_prob(p, jnp.asarray(y, jnp.float32)), ref, rtol=1e-5,
                               atol=1e-5)


def test_data_follows_bishop():
    x, y = toy.make_data(0, 5000)
    assert x.dtype == np.float32 and y.min() >= 0 and y.max() <= 1
    r = x - (y + 0.3 * np.sin(2 * np.pi * y))
    assert np.abs(r).max() <= 0.1 + 1e-6 and abs(r.mean()) < 0.01
    np.testing.assert_array_equal(toy.make_data(0, 10)[0], toy.make_data(0, 10)[0])


def test_true_conditional_normalised_and_multimodal():
    ys = np.linspace(-0.05, 1.05, 2001)
    for x0 in (0.1, 0.5, 0.9):
        d = np.exp(toy.true_log_prob(np.full_like(ys, x0), ys, grid=5001))
        assert d.sum() * (ys[1] - ys[0]) == pytest.approx(1.0, abs=0.01)
    branches = lambda x0: (np.diff((toy.true_log_prob(np.full_like(ys, x0), ys, grid=5001) > -np.inf)
                                   .astype(int)) == 1).sum()
    assert branches(0.1) == 1 and branches(0.9) == 1
    assert branches(0.35) == 2 and branches(0.65) == 2   # disjoint branches: a multimodal conditional


def test_init_is_the_glorot_mlp_and_predict_shapes():
    """The shared ``layers.mlp_init(..., init="glorot")``: the numbers the toy's own MLP init drew."""
    params = toy.init(jax.random.PRNGKey(0), "mdn", hidden=4, n_mix=3)
    for k, (a, b), layer in zip(jax.random.split(jax.random.PRNGKey(0), 3), ((1, 4), (4, 4), (4, 9)), params):
        lim = math.sqrt(6.0 / (a + b))
        np.testing.assert_array_equal(layer["w"], jax.random.uniform(k, (a, b), jnp.float32, -lim, lim))
    x = jnp.linspace(0, 1, 5)
    p = toy.predict(params, x, "mdn", 3)
    assert p["mu"].shape == (5, 3) and np.allclose(np.exp(p["log_pi"]).sum(-1), 1, atol=1e-6)
    assert toy.predict(toy.init(jax.random.PRNGKey(0), "mse", 4), x, "mse").shape == (5,)
    np.testing.assert_allclose(toy.log_prob(params, x, x, "mdn", 3), mdn.gmm_log_prob(p, x))
    with pytest.raises(ValueError, match="unknown model kind"):
        toy.predict(params, x, "gmm")


def test_mdn_beats_single_gaussian_quickly():
    cfg = toy.ToyConfig(n_train=600, n_test=2000, hidden=16, n_mix=3, steps=600, lr=2e-2)
    x, y = toy.make_data(1, cfg.n_train)
    xt, yt = toy.make_data(2, cfg.n_test)
    models = {k: toy.fit_model(k, cfg, x, y, progress=False) for k in toy.KINDS}
    res = toy.evaluate(models, cfg, x, y, xt, yt)
    # the conditional mean sits between the branches, so the squared error stays large
    assert res["regression_mse"] > 0.02
    assert res["mdn_nll"] < res["gauss_nll"] - 0.3
    assert res["gauss_nll"] <= res["regression_gauss_nll"] + 0.05
    assert res["mdn_nll"] > res["true_conditional_nll"] - 0.05   # cannot beat the true density
