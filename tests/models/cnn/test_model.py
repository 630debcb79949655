"""The tutorial CNN: shapes for 1- and 3-channel inputs, dropout in train/eval modes, the loss against a
float64 numpy reference, gradients against finite differences, and a one-batch overfit."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxseq.models.cnn import model as cnn


@pytest.mark.parametrize("in_ch,size,flat", [(1, 28, 16 * 4 * 4), (1, 32, 16 * 5 * 5), (3, 32, 400)])
def test_shapes(in_ch, size, flat):
    cfg = cnn.CNNConfig(in_ch=in_ch, size=size)
    assert cfg.flat_dim == flat
    p = cnn.init(jax.random.PRNGKey(0), cfg)
    x = jax.random.uniform(jax.random.PRNGKey(1), (3, size, size, in_ch))
    assert cnn.apply(p, x, train=False).shape == (3, 10)
    assert cnn.apply(p, x, train=True, key=jax.random.PRNGKey(2)).shape == (3, 10)
    assert cnn.features(p, x).shape == (3, 84)
    if in_ch == 1:   # [N, H, W] is taken as one channel
        np.testing.assert_allclose(cnn.apply(p, x[..., 0], train=False), cnn.apply(p, x, train=False))


def test_bad_config_and_missing_key():
    with pytest.raises(ValueError, match="too small"):
        cnn.CNNConfig(size=12)
    with pytest.raises(ValueError, match="dropout"):
        cnn.CNNConfig(dropout=1.0)
    p = cnn.init(jax.random.PRNGKey(0), cnn.CNNConfig())
    with pytest.raises(ValueError, match="PRNG key"):
        cnn.apply(p, jnp.zeros((1, 28, 28, 1)), train=True)


def test_dropout_train_vs_eval():
    cfg = cnn.CNNConfig(dropout=0.5)
    p = cnn.init(jax.random.PRNGKey(0), cfg)
    x = jax.random.uniform(jax.random.PRNGKey(1), (4, 28, 28, 1))
    ev1, ev2 = cnn.apply(p, x, train=False, rate=0.5), cnn.apply(p, x, train=False, rate=0.5)
    np.testing.assert_array_equal(ev1, ev2)                      # eval: deterministic, no dropout
    k = jax.random.PRNGKey(3)
    t1, t2 = cnn.apply(p, x, train=True, key=k, rate=0.5), cnn.apply(p, x, train=True, key=k, rate=0.5)
    np.testing.assert_array_equal(t1, t2)                        # same key, same result
    t3 = cnn.apply(p, x, train=True, key=jax.random.PRNGKey(4), rate=0.5)
    assert not np.allclose(t1, t3) and not np.allclose(t1, ev1)
    np.testing.assert_allclose(cnn.apply(p, x, train=True, key=k, rate=0.0), ev1, rtol=1e-6)
    # features = the penultimate activations: head(features) = eval logits
    f = cnn.features(p, x)
    np.testing.assert_allclose(f @ p["fc"][-1]["w"] + p["fc"][-1]["b"], ev1, rtol=1e-5, atol=1e-5)


def _numpy_forward(p, x):
    """float64 numpy reference: direct valid cross-correlation, max-pool 2, fc layers."""
    h = x.astype(np.float64) * 2 - 1
    for c in p["conv"]:
        w, b = np.asarray(c["w"], np.float64), np.asarray(c["b"], np.float64)
        k = w.shape[0]
        n, hh, ww, _ = h.shape
        oh, ow = hh - k + 1, ww - k + 1
        out = np.zeros((n, oh, ow, w.shape[3]))
        for i in range(k):
            for j in range(k):
                out += np.einsum("nhwc,co->nhwo", h[:, i:i + oh, j:j + ow], w[i, j])
        out = np.maximum(out + b, 0)
        out = out[:, :oh // 2 * 2, :ow // 2 * 2].reshape(n, oh // 2, 2, ow // 2, 2, -1).max((2, 4))
        h = out
    h = h.reshape(len(h), -1)
    for i, f in enumerate(p["fc"]):
        h = h @ np.asarray(f["w"], np.float64) + np.asarray(f["b"], np.float64)
        if i < len(p["fc"]) - 1:
            h = np.maximum(h, 0)
    return h


def test_loss_vs_numpy_float64():
    cfg = cnn.CNNConfig(size=28, dropout=0.0)
    p = cnn.init(jax.random.PRNGKey(0), cfg)
    rng = np.random.default_rng(0)
    x = rng.random((5, 28, 28, 1)).astype(np.float32)
    y = np.array([0, 3, 9, 1, 3], np.int32)
    logits = _numpy_forward(p, x)
    np.testing.assert_allclose(cnn.apply(p, x, train=False), logits, rtol=1e-4, atol=1e-5)
    m = logits.max(1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(1, keepdims=True))
    ref = -logp[np.arange(5), y].mean()
    loss, met = cnn.loss_fn(p, {"x": x, "y": y}, jax.random.PRNGKey(1), 0, rate=0.0)
    np.testing.assert_allclose(float(loss), ref, rtol=1e-5)
    assert float(met["acc"]) == pytest.approx((logits.argmax(1) == y).mean())


def test_grad_finite_differences(x64):
    from conftest import assert_grad_close
    cfg = cnn.CNNConfig(size=16, channels=(2, 3), kernel=3, hidden=(5, 4), n_classes=3, dropout=0.0)
    p = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), cnn.init(jax.random.PRNGKey(0), cfg))
    x = jax.random.uniform(jax.random.PRNGKey(1), (3, 16, 16, 1), jnp.float64)
    y = jnp.array([0, 2, 1])
    assert_grad_close(lambda q: cnn.cross_entropy(cnn.apply(q, x, train=False), y), (p,))


def test_overfit_one_batch():
    cfg = cnn.CNNConfig(dropout=0.0)
    p = cnn.init(jax.random.PRNGKey(0), cfg)
    rng = np.random.default_rng(0)
    b = {"x": rng.random((16, 28, 28, 1)).astype(np.float32), "y": rng.integers(0, 10, 16).astype(np.int32)}
    opt = optax.adam(3e-3)
    s = opt.init(p)

    @jax.jit
    def step(p, s):
        (l, _), g = jax.value_and_grad(cnn.loss_fn, has_aux=True)(p, b, None, 0, rate=0.0)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, l
    for _ in range(150):
        p, s, l = step(p, s)
    assert float(l) < 0.05
