"""BEGAN (Berthelot, Schumm & Metz 2017): the discriminator is an autoencoder, and the generator is a
decoder of the same shape as the autoencoder's.

For a square image of side ``size`` (a power of two >= 8) the encoder is a 3x3 conv to ``n`` maps, then
one block per scale: two 3x3 convs + ELU, and (except at 8x8) a stride-2 3x3 conv that halves the side and
adds ``n`` maps (``n, 2n, 3n, ...``); the 8x8 maps go through a dense layer to the embedding ``h``. The
decoder (and the generator) maps ``h`` by a dense layer to 8x8x``n``, then per scale two 3x3 convs + ELU
and a nearest-neighbour 2x upsampling (except at the last scale), then a 3x3 conv to the image channels.
Outputs are linear, as in the paper (images live in [-1, 1]). Convolutions and dense layers: Glorot init.

Losses (paper eqs. 4 and 5): ``L(v) = mean |v - D(v)|`` (pixel-wise L1 of the autoencoder);
``L_D = L(x) - k_t L(G(z))``, ``L_G = L(G(z))``;
``k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)``; the convergence measure
``M_global = L(x) + |gamma L(x) - L(G(z))|``.
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxseq.nn import layers


@dataclasses.dataclass(frozen=True)
class BEGANConfig:
    size: int = 32        # image side, a power of two >= 8
    channels: int = 1
    h: int = 64           # embedding and noise size (z ~ U(-1, 1)^h)
    n: int = 64           # filters per conv (the encoder grows them by n per scale)

    def __post_init__(self):
        if self.size < 8 or self.size & (self.size - 1):
            raise ValueError(f"size = {self.size}: give a power of two >= 8 (e.g. 32 or 64)")
        for name in ("channels", "h", "n"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be at least 1")

    @property
    def scales(self):
        """Resolutions of the blocks: 8x8 and every doubling up to ``size`` (3 at 32x32)."""
        return int(math.log2(self.size)) - 2


def _conv(key, a, b):
    return layers.conv_init(key, 3, a, b, init="glorot")


def encoder_init(key, cfg: BEGANConfig):
    s = cfg.scales
    keys = iter(jax.random.split(key, 3 * s + 2))
    p = {"in": _conv(next(keys), cfg.channels, cfg.n), "blocks": [], "down": []}
    for i in range(s):
        c = cfg.n * (i + 1)
        p["blocks"].append([_conv(next(keys), c, c), _conv(next(keys), c, c)])
        if i < s - 1:
            p["down"].append(_conv(next(keys), c, c + cfg.n))
    p["out"] = layers.dense_init(next(keys), 8 * 8 * cfg.n * s, cfg.h, init="glorot")
    return p


def encode(p, x):
    """images ``[B, size, size, C]`` -> embeddings ``[B, h]``."""
    x = jax.nn.elu(layers.conv2d(p["in"], x, padding=1))
    for i, block in enumerate(p["blocks"]):
        for conv in block:
            x = jax.nn.elu(layers.conv2d(conv, x, padding=1))
        if i < len(p["down"]):
            x = jax.nn.elu(layers.conv2d(p["down"][i], x, stride=2, padding=1))
    return layers.dense(p["out"], x.reshape(x.shape[0], -1))


def decoder_init(key, cfg: BEGANConfig):
    """The decoder, which is also the generator's architecture."""
    s = cfg.scales
    keys = iter(jax.random.split(key, 2 * s + 2))
    return {"in": layers.dense_init(next(keys), cfg.h, 8 * 8 * cfg.n, init="glorot"),
            "blocks": [[_conv(next(keys), cfg.n, cfg.n), _conv(next(keys), cfg.n, cfg.n)] for _ in range(s)],
            "out": _conv(next(keys), cfg.n, cfg.channels)}


def decode(p, h):
    """embeddings or noise ``[B, h]`` -> images ``[B, size, size, C]`` (linear output)."""
    x = layers.dense(p["in"], h).reshape(h.shape[0], 8, 8, -1)
    for i, block in enumerate(p["blocks"]):
        for conv in block:
            x = jax.nn.elu(layers.conv2d(conv, x, padding=1))
        if i < len(p["blocks"]) - 1:
            x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)   # nearest-neighbour upsampling
    return layers.conv2d(p["out"], x, padding=1)


def d_init(key, cfg: BEGANConfig):
    ke, kd = jax.random.split(key)
    return {"enc": encoder_init(ke, cfg), "dec": decoder_init(kd, cfg)}


def autoencode(d, x):
    """The discriminator: its reconstruction of ``x``."""
    return decode(d["dec"], encode(d["enc"], x))


g_init = decoder_init
generate = decode


def recon_loss(d, x):
    """``L(x) = mean |x - D(x)|`` over pixels and the batch (paper eq. 1 with eta = 1)."""
    return jnp.abs(x.astype(jnp.float32) - autoencode(d, x).astype(jnp.float32)).mean()


def k_update(k, loss_real, loss_fake, gamma, lambda_k):
    """Proportional control of the equilibrium ``E[L(G(z))] = gamma E[L(x)]`` (paper eq. 4)."""
    return jnp.clip(k + lambda_k * (gamma * loss_real - loss_fake), 0.0, 1.0)


def m_global(loss_real, loss_fake, gamma):
    """The convergence measure ``L(x) + |gamma L(x) - L(G(z))|`` (paper section 3.4.1)."""
    return loss_real + jnp.abs(gamma * loss_real - loss_fake)
