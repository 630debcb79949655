"""Feed-forward pieces shared by every model: dense layers, MLPs, dropout, layer norm and the dtype cast
of a compute copy. Pure functions over params dicts ``{"w": [in, out], "b": [out]}``.

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
