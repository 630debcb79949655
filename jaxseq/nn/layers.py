"""Feed-forward pieces shared by every model: dense layers, MLPs, dropout, layer norm, 2-D convolutions
(plain and transposed), pooling and batch norm with explicit running-statistics state. Pure functions over
params dicts ``{"w": [in, out], "b": [out]}``; images are NHWC, kernels HWIO.

Initialisers (each model keeps the one its paper or seed project uses):

- ``"uniform"``: U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's ``nn.Linear`` / ``nn.LSTM`` default),
- ``"normal"``: N(0, 1/in) (LeCun normal),
- ``"glorot"``: U(-sqrt(6/(in+out)), +sqrt(6/(in+out))) (Glorot & Bengio 2010).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

INITS = ("uniform", "normal", "glorot")


def dense_weight(key, in_dim, out_dim, init="uniform"):
    """A ``[in_dim, out_dim]`` float32 weight drawn by ``init`` (one of :data:`INITS`)."""
    if init == "uniform":
        return jax.random.uniform(key, (in_dim, out_dim), jnp.float32, -1.0, 1.0) / jnp.sqrt(in_dim)
    if init == "normal":
        return jax.random.normal(key, (in_dim, out_dim), jnp.float32) * (1.0 / jnp.sqrt(in_dim))
    if init == "glorot":
        lim = math.sqrt(6.0 / (in_dim + out_dim))
        return jax.random.uniform(key, (in_dim, out_dim), jnp.float32, -lim, lim)
    raise ValueError(f"unknown initialiser {init!r}; choose one of {INITS}")


def dense_init(key, in_dim, out_dim, init="uniform"):
    """``{"w": [in, out], "b": zeros [out]}``."""
    return {"w": dense_weight(key, in_dim, out_dim, init), "b": jnp.zeros((out_dim,), jnp.float32)}


def dense(p, x):
    """``x @ w + b`` with ``x`` cast to the weight dtype (bf16 compute copies stay bf16). x: [..., in]."""
    return jnp.dot(x.astype(p["w"].dtype), p["w"]) + p["b"]


def mlp_init(key, sizes, init="glorot"):
    """sizes ``[d0, d1, ..., dn]`` -> a list of dense params ``d_i -> d_{i+1}``."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [dense_init(k, a, b, init) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def mlp(layers, x, act=jax.nn.relu):
    """``act`` between layers, linear output. x: [..., d0] -> [..., dn]."""
    for i, p in enumerate(layers):
        x = dense(p, x)
        if i < len(layers) - 1:
            x = act(x)
    return x


def dropout(key, x, rate):
    """Inverted dropout: zero each entry with probability ``rate`` and scale the rest by 1/(1 - rate).
    The identity when ``key`` is None or ``rate`` is 0 (evaluation)."""
    if key is None or rate <= 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0).astype(x.dtype)


def dropout_mask(key, shape, rate, dtype=jnp.float32):
    """A fixed mask already scaled by 1/(1 - rate), e.g. one per sequence shared over time (recurrent
    dropout without memory loss, Semeniuta et al. 2016)."""
    keep = 1.0 - rate
    return jax.random.bernoulli(key, keep, shape).astype(dtype) / keep


def layer_norm(x, scale, bias, eps=1e-5):
    """Ba et al. 2016 over the last axis."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * scale + bias


# --- Convolutions (NHWC activations, HWIO kernels) -------------------------------------------------------

CONV_INITS = ("uniform", "glorot", "dcgan")


def conv_weight(key, kernel, in_ch, out_ch, init="uniform"):
    """A ``[kh, kw, in_ch, out_ch]`` float32 kernel.

    ``"uniform"``: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = kh*kw*in_ch (PyTorch's ``nn.Conv2d``);
    ``"glorot"``: Glorot uniform over fan_in + fan_out; ``"dcgan"``: N(0, 0.02) (Radford et al. 2016).
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    shape = (kh, kw, in_ch, out_ch)
    if init == "uniform":
        lim = 1.0 / math.sqrt(kh * kw * in_ch)
        return jax.random.uniform(key, shape, jnp.float32, -lim, lim)
    if init == "glorot":
        lim = math.sqrt(6.0 / (kh * kw * (in_ch + out_ch)))
        return jax.random.uniform(key, shape, jnp.float32, -lim, lim)
    if init == "dcgan":
        return 0.02 * jax.random.normal(key, shape, jnp.float32)
    raise ValueError(f"unknown convolution initialiser {init!r}; choose one of {CONV_INITS}")


def conv_init(key, kernel, in_ch, out_ch, init="uniform", bias=True):
    """``{"w": [kh, kw, in, out], "b": zeros [out]}`` (no ``"b"`` when ``bias`` is False, e.g. before a
    batch norm)."""
    p = {"w": conv_weight(key, kernel, in_ch, out_ch, init)}
    if bias:
        p["b"] = jnp.zeros((out_ch,), jnp.float32)
    return p


def _pairs(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d(p, x, stride=1, padding=0):
    """2-D cross-correlation like PyTorch's ``nn.Conv2d``. x: [B, H, W, C_in] -> [B, H', W', C_out] with
    ``H' = (H + 2*padding - kh) // stride + 1``. ``padding`` is an int, a pair, or ``"SAME"``."""
    sh, sw = _pairs(stride)
    if isinstance(padding, str):
        pad = padding
    else:
        ph, pw = _pairs(padding)
        pad = ((ph, ph), (pw, pw))
    y = jax.lax.conv_general_dilated(x.astype(p["w"].dtype), p["w"], (sh, sw), pad,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + p["b"] if "b" in p else y


def conv_transpose2d(p, x, stride=1, padding=0, output_padding=0):
    """The gradient of :func:`conv2d` with respect to its input, like PyTorch's ``nn.ConvTranspose2d``.

    Kernel ``p["w"]``: [kh, kw, C_in, C_out] (stored input-major like every kernel here).
    x: [B, H, W, C_in] -> [B, H', W', C_out] with ``H' = (H - 1)*stride - 2*padding + kh + output_padding``.
    Written as a convolution of the stride-dilated input with the spatially flipped kernel.
    """
    sh, sw = _pairs(stride)
    ph, pw = _pairs(padding)
    oh, ow = _pairs(output_padding)
    w = p["w"]
    kh, kw = w.shape[0], w.shape[1]
    w = w[::-1, ::-1]
    pad = ((kh - 1 - ph, kh - 1 - ph + oh), (kw - 1 - pw, kw - 1 - pw + ow))
    y = jax.lax.conv_general_dilated(x.astype(w.dtype), w, (1, 1), pad, lhs_dilation=(sh, sw),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + p["b"] if "b" in p else y


def max_pool(x, window=2, stride=None):
    """Max pooling over H and W, no padding. x: [B, H, W, C]."""
    wh, ww = _pairs(window)
    sh, sw = _pairs(stride if stride is not None else window)
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, wh, ww, 1), (1, sh, sw, 1), "VALID")


def avg_pool(x, window=2, stride=None):
    """Average pooling over H and W, no padding. x: [B, H, W, C]."""
    wh, ww = _pairs(window)
    sh, sw = _pairs(stride if stride is not None else window)
    s = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, wh, ww, 1), (1, sh, sw, 1), "VALID")
    return s / (wh * ww)


# --- Batch norm with explicit state -----------------------------------------------------------------------

def batch_norm_init(channels):
    """``(params, state)``: learnable ``{"scale": ones, "bias": zeros}`` and running statistics
    ``{"mean": zeros, "var": ones}``, all ``[channels]``. The state is a separate pytree that the
    training step threads through and returns; nothing is hidden."""
    params = {"scale": jnp.ones((channels,), jnp.float32), "bias": jnp.zeros((channels,), jnp.float32)}
    state = {"mean": jnp.zeros((channels,), jnp.float32), "var": jnp.ones((channels,), jnp.float32)}
    return params, state


def batch_norm(p, state, x, train, momentum=0.1, eps=1e-5):
    """Ioffe & Szegedy 2015 over every axis but the last (channels). Returns ``(y, new_state)``.

    ``train=True`` normalises with the batch's statistics (biased variance) and updates the running
    averages as PyTorch does: ``running = (1 - momentum)*running + momentum*batch``, with the unbiased
    batch variance. ``train=False`` uses the running statistics and returns ``state`` unchanged.
    Statistics are computed in float32 whatever the compute dtype of ``x``.
    """
    xf = x.astype(jnp.float32)
    if train:
        axes = tuple(range(x.ndim - 1))
        mean = xf.mean(axes)
        var = ((xf - mean) ** 2).mean(axes)
        n = xf.size // xf.shape[-1]
        unbiased = var * (n / max(n - 1, 1))
        new_state = {"mean": (1 - momentum) * state["mean"] + momentum * jax.lax.stop_gradient(mean),
                     "var": (1 - momentum) * state["var"] + momentum * jax.lax.stop_gradient(unbiased)}
    else:
        mean, var, new_state = state["mean"], state["var"], state
    y = (xf - mean) * jax.lax.rsqrt(var + eps) * p["scale"] + p["bias"]
    return y.astype(x.dtype), new_state
