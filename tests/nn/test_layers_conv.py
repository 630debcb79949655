"""Convolutions, pooling and batch norm against direct float64 numpy definitions."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.nn import layers



def np_conv2d(x, w, b, stride, pad):
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    B, H, W, _ = x.shape
    kh, kw, _, co = w.shape
    oh, ow = (H - kh) // stride + 1, (W - kw) // stride + 1
    y = np.zeros((B, oh, ow, co))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            y[:, i, j] = np.einsum("bhwc,hwco->bo", patch, w)
    return y + b


def np_conv_transpose2d(x, w, b, stride, pad, out_pad):
    """Scatter-add definition (each input pixel stamps the kernel), then crop ``pad`` from each side."""
    B, H, W, _ = x.shape
    kh, kw, _, co = w.shape
    full = np.zeros((B, (H - 1) * stride + kh + out_pad, (W - 1) * stride + kw + out_pad, co))
    for i in range(H):
        for j in range(W):
            full[:, i * stride:i * stride + kh, j * stride:j * stride + kw] += np.einsum(
                "bc,hwco->bhwo", x[:, i, j], w)
    oh = (H - 1) * stride - 2 * pad + kh + out_pad
    ow = (W - 1) * stride - 2 * pad + kw + out_pad
    return full[:, pad:pad + oh, pad:pad + ow] + b


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (1, 2)])
def test_conv2d_matches_numpy(stride, pad):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, 3))
    p = layers.conv_init(jax.random.PRNGKey(1), 3, 3, 4)
    p["b"] = jnp.asarray(rng.normal(size=4), jnp.float32)
    y = layers.conv2d(p, jnp.asarray(x, jnp.float32), stride, pad)
    ref = np_conv2d(x, np.asarray(p["w"], np.float64), np.asarray(p["b"], np.float64), stride, pad)
    assert y.shape == ref.shape
    np.testing.assert_allclose(np.asarray(y), ref, atol=1e-4)


@pytest.mark.parametrize("stride,pad,out_pad", [(2, 1, 0), (1, 0, 0), (2, 1, 1), (2, 0, 0)])
def test_conv_transpose2d_matches_numpy(stride, pad, out_pad):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 5, 3))
    p = layers.conv_init(jax.random.PRNGKey(3), 4, 3, 2, init="dcgan")
    p["b"] = jnp.asarray(rng.normal(size=2), jnp.float32)
    y = layers.conv_transpose2d(p, jnp.asarray(x, jnp.float32), stride, pad, out_pad)
    ref = np_conv_transpose2d(x, np.asarray(p["w"], np.float64), np.asarray(p["b"], np.float64),
                              stride, pad, out_pad)
    assert y.shape == ref.shape
    np.testing.assert_allclose(np.asarray(y), ref, atol=1e-4)


def test_conv_transpose_is_conv_adjoint():
    """<conv(x), y> == <x, conv_transpose(y)> for the same kernel (no bias)."""
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    w = layers.conv_init(k1, 4, 3, 5, bias=False)
    x = jax.random.normal(k2, (2, 8, 8, 3))
    y = jax.random.normal(k3, (2, 4, 4, 5))
    lhs = jnp.vdot(layers.conv2d(w, x, 2, 1), y)
    wt = {"w": jnp.swapaxes(w["w"], 2, 3)}  # conv_transpose's kernel maps C_in(=5) -> C_out(=3)
    rhs = jnp.vdot(x, layers.conv_transpose2d(wt, y, 2, 1))
    np.testing.assert_allclose(float(lhs), float(rhs), rtol=1e-4)


def test_pools():
    x = jnp.arange(2 * 4 * 4 * 1, dtype=jnp.float32).reshape(2, 4, 4, 1)
    xn = np.asarray(x).reshape(2, 2, 2, 2, 2, 1)
    np.testing.assert_allclose(np.asarray(layers.max_pool(x)), xn.max((2, 4)))
    np.testing.assert_allclose(np.asarray(layers.avg_pool(x)), xn.mean((2, 4)))


def test_batch_norm_train_and_eval():
    rng = np.random.default_rng(4)
    x = rng.normal(2.0, 3.0, size=(6, 3, 3, 4))
    p, s = layers.batch_norm_init(4)
    p = {"scale": jnp.asarray(rng.normal(size=4), jnp.float32), "bias": jnp.asarray(rng.normal(size=4), jnp.float32)}
    y, s2 = layers.batch_norm(p, s, jnp.asarray(x, jnp.float32), train=True, momentum=0.1)
    m, v = x.mean((0, 1, 2)), x.var((0, 1, 2))
    ref = (x - m) / np.sqrt(v + 1e-5) * np.asarray(p["scale"]) + np.asarray(p["bias"])
    np.testing.assert_allclose(np.asarray(y), ref, atol=1e-4)
    n = 6 * 3 * 3
    np.testing.assert_allclose(np.asarray(s2["mean"]), 0.1 * m, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(s2["var"]), 0.9 + 0.1 * v * n / (n - 1), rtol=1e-5)
    y_eval, s3 = layers.batch_norm(p, s2, jnp.asarray(x, jnp.float32), train=False)
    ref_eval = (x - np.asarray(s2["mean"])) / np.sqrt(np.asarray(s2["var"]) + 1e-5) * np.asarray(p["scale"]) \
        + np.asarray(p["bias"])
    np.testing.assert_allclose(np.asarray(y_eval), ref_eval, atol=1e-4)
    assert s3 is s2


def test_batch_norm_gradient_finite_difference():
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.normal(size=(5, 2, 2, 3)), jnp.float32)
    p, s = layers.batch_norm_init(3)
    w = jnp.asarray(rng.normal(size=(5, 2, 2, 3)), jnp.float32)

    def f(x):
        return jnp.sum(layers.batch_norm(p, s, x, train=True)[0] * w)
    g = jax.grad(f)(x)
    d = jnp.asarray(rng.normal(size=x.shape), jnp.float32)
    eps = 1e-2
    fd = (f(x + eps * d) - f(x - eps * d)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.vdot(g, d)), float(fd), rtol=2e-2, atol=2e-3)
