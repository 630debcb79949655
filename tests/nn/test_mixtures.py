"""Mixture densities against float64 numpy, finite differences, and samplers against analytic moments."""
import math

import jax
import jax.numpy as jnp
import numpy as np

from conftest import assert_grad_close
from jaxseq.nn import mixtures as mdn

M = 3


def raw_gmm(seed, lead=(4,)):
    return np.random.default_rng(seed).normal(size=lead + (mdn.gmm_size(M),)).astype(np.float32)


def raw_biv(seed, lead=(4,), n_pen=1):
    return np.random.default_rng(seed).normal(size=lead + (mdn.bivariate_size(M, n_pen),)) \
        .astype(np.float32)


def np_logsumexp(a, axis=-1):
    m = a.max(axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis, keepdims=True))).squeeze(axis)


def np_gmm_log_prob(raw, y):
    raw = np.float64(raw)
    logit, mu, ls = np.split(raw, 3, -1)
    log_pi = logit - np_logsumexp(logit)[..., None]
    s = np.exp(ls)
    dens = np.exp(-0.5 * ((y[..., None] - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    return np.log((np.exp(log_pi) * dens).sum(-1))


def np_biv_log_prob(raw, x1, x2):
    """Density through the explicit covariance matrix (an independent route from Graves eq 24)."""
    raw = np.float64(raw)
    logit, mu1, mu2, ls1, ls2, rho_hat = (raw[..., i * M:(i + 1) * M] for i in range(6))
    pi = np.exp(logit - np_logsumexp(logit)[..., None])
    s1, s2, rho = np.exp(ls1), np.exp(ls2), (1 - 1e-5) * np.tanh(rho_hat)
    cov = np.stack([np.stack([s1 ** 2, rho * s1 * s2], -1), np.stack([rho * s1 * s2, s2 ** 2], -1)], -2)
    d = np.stack([x1[..., None] - mu1, x2[..., None] - mu2], -1)[..., None]      # [..., M, 2, 1]
    quad = (np.swapaxes(d, -1, -2) @ np.linalg.inv(cov) @ d)[..., 0, 0]
    dens = np.exp(-0.5 * quad) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
    return np.log((pi * dens).sum(-1))


def test_gmm_log_prob_matches_numpy():
    raw = raw_gmm(0)
    y = np.random.default_rng(1).normal(size=4).astype(np.float32)
    lp = jax.jit(lambda r, y: mdn.gmm_log_prob(mdn.split_gmm(r, M), y))(raw, y)
    np.testing.assert_allclose(lp, np_gmm_log_prob(raw, np.float64(y)), rtol=1e-5, atol=1e-5)


def test_gmm_density_integrates_to_one():
    raw = raw_gmm(2, lead=())
    grid = np.linspace(-40, 40, 40001, dtype=np.float32)
    lp = jax.jit(lambda r, y: mdn.gmm_log_prob(mdn.split_gmm(r, M), y))(raw, grid)
    assert abs(np.trapezoid(np.exp(np.float64(lp)), grid) - 1.0) < 1e-4


def test_bivariate_and_eos_match_numpy():
    raw = raw_biv(3)
    rng = np.random.default_rng(4)
    x1, x2 = rng.normal(size=(2, 4)).astype(np.float32)
    eos = np.array([0, 1, 1, 0], np.float32)
    lp, le = jax.jit(lambda r, a, b, e: (mdn.bivariate_log_prob(mdn.split_bivariate(r, M), a, b),
                                         mdn.eos_log_prob(mdn.split_bivariate(r, M), e)))(
        raw, x1, x2, eos)
    np.testing.assert_allclose(lp, np_biv_log_prob(raw, np.float64(x1), np.float64(x2)),
                               rtol=1e-5, atol=1e-5)
    e = 1.0 / (1.0 + np.exp(-np.float64(raw[:, -1])))
    np.testing.assert_allclose(le, np.log(np.where(eos > 0, e, 1 - e)), rtol=1e-5, atol=1e-6)


def test_stroke_nll_masks_padding():
    raw = raw_biv(5, lead=(2, 6))
    rng = np.random.default_rng(6)
    target = np.concatenate([rng.normal(size=(2, 6, 2)), rng.integers(0, 2, (2, 6, 1))], -1) \
        .astype(np.float32)
    mask = np.array([[1] * 6, [1] * 3 + [0] * 3], np.float32)
    target_noisy = target.copy()
    target_noisy[1, 3:] = 1e4  # padding content must not leak into the loss
    nll = jax.jit(lambda r, t, m: mdn.stroke_nll(mdn.split_bivariate(r, M), t, m))(raw, target_noisy,
                                                                                 mask)
    ref = -(np_biv_log_prob(raw, np.float64(target[..., 0]), np.float64(target[..., 1]))
            + np.where(target[..., 2] > 0, -np.log1p(np.exp(-np.float64(raw[..., -1]))),
                       -np.log1p(np.exp(np.float64(raw[..., -1])))))
    np.testing.assert_allclose(nll, (ref * mask).sum(-1), rtol=1e-5, atol=1e-4)


def test_bias_and_temperature():
    raw = raw_biv(7, lead=())
    p0 = mdn.split_bivariate(raw, M)
    p1 = mdn.split_bivariate(raw, M, bias=0.0, temperature=1.0)
    for k in p0:
        np.testing.assert_allclose(p0[k], p1[k], rtol=1e-6)
    pb = mdn.split_bivariate(raw, M, bias=2.0)   # Graves eqs 61-62
    np.testing.assert_allclose(pb["log_s1"], p0["log_s1"] - 2.0, rtol=1e-6)
    assert float(jnp.max(pb["log_pi"])) > float(jnp.max(p0["log_pi"]))  # sharper weights
    pt = mdn.split_bivariate(raw, M, temperature=0.25)
    np.testing.assert_allclose(jnp.exp(2 * pt["log_s2"]), 0.25 * jnp.exp(2 * p0["log_s2"]), rtol=1e-5)
    np.testing.assert_allclose(pt["pen_logits"], p0["pen_logits"] / 0.25, rtol=1e-6)


def test_extreme_outputs_stay_finite():
    raw = np.full((2, mdn.bivariate_size(M)), 1e4, np.float32)
    raw[1] = -1e4
    target = np.zeros((2, 3), np.float32)

    def loss(r):
        return mdn.stroke_nll(mdn.split_bivariate(r, M), target[:, None], None).sum()
    val, g = jax.jit(jax.value_and_grad(loss))(raw[:, None])
    assert np.isfinite(val) and np.all(np.isfinite(g))


def test_gradients_finite_differences(x64):
    raw = np.float64(raw_biv(8, lead=(5,)))
    rng = np.random.default_rng(9)
    target = np.concatenate([rng.normal(size=(5, 2)), rng.integers(0, 2, (5, 1))], -1)
    y = rng.normal(size=(5,))

    def f(raw):
        nll = mdn.stroke_nll(mdn.split_bivariate(raw, M), target).sum()
        g = mdn.gmm_log_prob(mdn.split_gmm(raw[:, :3 * M], M), y).sum()
        assert nll.dtype == jnp.float64
        return nll + g
    assert_grad_close(f, (raw,))


def _moments(samples):
    return samples.mean(0), np.cov(samples, rowvar=False)


def test_gmm_sampler_matches_moments():
    n = 40000
    raw = np.broadcast_to(raw_gmm(10, lead=()), (n, 3 * M))
    p = mdn.split_gmm(raw[:1], M)
    mean, var = mdn.gmm_mean_var(p)
    ys = np.asarray(jax.jit(lambda k, r: mdn.gmm_sample(k, mdn.split_gmm(r, M)))(
        jax.random.PRNGKey(0), raw))
    se = math.sqrt(float(var[0]) / n)
    assert abs(ys.mean() - float(mean[0])) < 5 * se
    assert abs(ys.var() / float(var[0]) - 1.0) < 0.05


def test_gmm_temperature_scales_variance():
    raw = np.zeros((20000, 3), np.float32)   # one component, sigma 1
    ys = np.asarray(jax.jit(lambda k, r: mdn.gmm_sample(k, mdn.split_gmm(r, 1), temperature=0.25))(
        jax.random.PRNGKey(1), raw))
    assert abs(ys.var() - 0.25) < 0.02


def test_bivariate_sampler_matches_moments():
    n = 40000
    one = raw_biv(11, lead=())
    one[5 * M:6 * M] = np.array([1.5, -1.0, 0.3])  # strong correlations
    raw = np.broadcast_to(one, (n, one.shape[0]))
    mean, cov = mdn.bivariate_moments(mdn.split_bivariate(one, M))
    xy, pen = jax.jit(lambda k, r: mdn.sample_bivariate(k, mdn.split_bivariate(r, M)))(
        jax.random.PRNGKey(2), raw)
    m_hat, c_hat = _moments(np.asarray(xy, np.float64))
    sd = np.sqrt(np.diag(np.asarray(cov)))
    np.testing.assert_allclose(m_hat, mean, atol=5 * float(sd.max()) / math.sqrt(n))
    np.testing.assert_allclose(c_hat / np.outer(sd, sd), np.asarray(cov) / np.outer(sd, sd),
                               atol=0.03)
    e = 1 / (1 + math.exp(-float(one[-1])))
    assert abs(float(np.mean(pen)) - e) < 5 * math.sqrt(e * (1 - e) / n)


def test_three_way_pen_sampler():
    n = 30000
    logits = np.array([1.0, -0.5, 0.2], np.float32)
    one = np.concatenate([raw_biv(12, lead=(), n_pen=3)[:6 * M], logits])
    raw = np.broadcast_to(one, (n, one.shape[0]))
    _, pen = jax.jit(lambda k, r: mdn.sample_bivariate(k, mdn.split_bivariate(r, M, n_pen=3),
                                                         n_pen=3))(jax.random.PRNGKey(3), raw)
    freq = np.bincount(np.asarray(pen), minlength=3) / n
    probs = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(freq, probs, atol=0.015)


def test_bivariate_sampler_with_predrawn_noise_matches_moments():
    """The fast path sampling loops use (noise drawn up front, Gumbel-max pick), with a bias."""
    n = 40000
    raw = jnp.asarray(np.random.default_rng(1).normal(size=(6 * 2 + 1,)), jnp.float32)
    p = mdn.split_bivariate(jnp.broadcast_to(raw, (n, raw.size)), 2, bias=0.3)
    noise = mdn.bivariate_noise(jax.random.PRNGKey(0), (n,), 2)
    assert noise["gumbel"].shape == (n, 2) and noise["normal"].shape == (n, 2) and noise["pen"].shape == (n,)
    xy, eos = jax.jit(lambda p, z: mdn.sample_bivariate(None, p, noise=z))(p, noise)
    mean, cov = (np.asarray(a[0], np.float64) for a in mdn.bivariate_moments(p))
    sd = np.sqrt(np.diag(cov))
    xy = np.asarray(xy, np.float64)
    np.testing.assert_allclose(xy.mean(0), mean, atol=4 * sd.max() / math.sqrt(n))
    np.testing.assert_allclose(np.cov(xy.T), cov, rtol=0.06, atol=0.02 * sd.max() ** 2)
    e = float(jax.nn.sigmoid(p["pen_logits"][0, 0]))
    assert abs(float(np.mean(eos)) - e) < 4 * math.sqrt(e * (1 - e) / n)


def test_bivariate_sampler_key_is_categorical_draw():
    """With a key, the component and pen picks are exactly ``jax.random.categorical``'s (and the bit
    ``bernoulli``'s) on the same sub-keys, so seeded samples did not change with the one-sampler move."""
    raw = raw_biv(13, lead=(64,), n_pen=3)
    p = mdn.split_bivariate(raw, M, n_pen=3)
    key = jax.random.PRNGKey(4)
    kc, _, kp = jax.random.split(key, 3)
    noise = mdn.bivariate_noise(key, (64,), M, n_pen=3)
    idx = jnp.argmax(p["log_pi"] + noise["gumbel"], -1)
    np.testing.assert_array_equal(idx, jax.random.categorical(kc, p["log_pi"], axis=-1))
    _, pen = mdn.sample_bivariate(key, p, n_pen=3)
    np.testing.assert_array_equal(pen, jax.random.categorical(kp, p["pen_logits"], axis=-1))
    p1 = mdn.split_bivariate(raw_biv(13, lead=(64,)), M)
    _, bit = mdn.sample_bivariate(key, p1)
    np.testing.assert_array_equal(bit, jax.random.bernoulli(kp, jax.nn.sigmoid(p1["pen_logits"][..., 0])))
