"""DCGAN (Radford, Metz & Chintala 2016) as in the PyTorch DCGAN tutorial, for square images of side
``size`` = 2**k (32 for padded Fashion-MNIST, 64 for CelebA).

Generator: z ``[B, nz]`` as a 1x1 image -> ConvTranspose(4, stride 1, pad 0) to 4x4 -> BN -> ReLU, then
ConvTranspose(4, stride 2, pad 1) doubling the side with BN + ReLU, halving the channels each time, down to
``ngf``; a last ConvTranspose to ``channels`` and tanh (images in [-1, 1]).
Discriminator: the mirror: Conv(4, stride 2, pad 1) + LeakyReLU(0.2) (no BN on the first layer), then
Conv + BN + LeakyReLU doubling the channels until 4x4, and Conv(4, stride 1, pad 0) to one logit.
Convolutions have no bias (every one but the last feeds a batch norm, as in the tutorial).

Init (the tutorial's ``weights_init``): every kernel N(0, 0.02); batch-norm scale N(1, 0.02), bias 0.

Batch norm state is explicit: ``apply`` functions take ``(params, bn_state, x, train)`` and return
``(out, new_bn_state)``; ``train=False`` uses the running statistics and returns the state unchanged.
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxseq.nn import layers


@dataclasses.dataclass(frozen=True)
class DCGANConfig:
    size: int = 32        # image side, a power of two >= 8 (32: padded Fashion-MNIST; 64: CelebA)
    channels: int = 1     # 1 grey, 3 RGB
    nz: int = 100         # latent size
    ngf: int = 64         # generator feature maps at the last hidden layer
    ndf: int = 64         # discriminator feature maps at the first layer

    def __post_init__(self):
        if self.size < 8 or self.size & (self.size - 1):
            raise ValueError(f"size = {self.size}: give a power of two >= 8 (e.g. 32 or 64)")
        for name in ("channels", "nz", "ngf", "ndf"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be at least 1")

    @property
    def n_hidden(self):
        """Hidden (BN) layers of each network: log2(size) - 2 (3 at 32x32, 4 at 64x64)."""
        return int(math.log2(self.size)) - 2


def _bn_init(key, ch):
    p, s = layers.batch_norm_init(ch)
    return {**p, "scale": 1.0 + 0.02 * jax.random.normal(key, (ch,), jnp.float32)}, s


def g_init(key, cfg: DCGANConfig):
    """``(params, bn_state)`` of the generator: ``{"convs": [...], "bns": [...]}`` and ``[...]``."""
    n = cfg.n_hidden
    chans = [cfg.nz] + [cfg.ngf * 2 ** (n - 1 - i) for i in range(n)] + [cfg.channels]
    keys = jax.random.split(key, 2 * (n + 1))
    convs = [layers.conv_init(keys[i], 4, a, b, init="dcgan", bias=False)
             for i, (a, b) in enumerate(zip(chans[:-1], chans[1:]))]
    bns = [_bn_init(keys[n + 1 + i], chans[i + 1]) for i in range(n)]
    return {"convs": convs, "bns": [b[0] for b in bns]}, [b[1] for b in bns]


def g_apply(params, state, z, train):
    """z ``[B, nz]`` -> images ``[B, size, size, channels]`` in [-1, 1], and the new BN state."""
    x = z[:, None, None, :]
    new_state = []
    for i, (conv, bn) in enumerate(zip(params["convs"], params["bns"])):
        x = layers.conv_transpose2d(conv, x, stride=1 if i == 0 else 2, padding=0 if i == 0 else 1)
        x, s = layers.batch_norm(bn, state[i], x, train)
        new_state.append(s)
        x = jax.nn.relu(x)
    x = layers.conv_transpose2d(params["convs"][-1], x, stride=2, padding=1)
    return jnp.tanh(x), new_state


def d_init(key, cfg: DCGANConfig):
    """``(params, bn_state)`` of the discriminator (BN on every hidden layer but the first)."""
    n = cfg.n_hidden
    chans = [cfg.channels] + [cfg.ndf * 2 ** i for i in range(n)] + [1]
    keys = jax.random.split(key, 2 * (n + 1))
    convs = [layers.conv_init(keys[i], 4, a, b, init="dcgan", bias=False)
             for i, (a, b) in enumerate(zip(chans[:-1], chans[1:]))]
    bns = [_bn_init(keys[n + 1 + i], chans[i + 2]) for i in range(n - 1)]
    return {"convs": convs, "bns": [b[0] for b in bns]}, [b[1] for b in bns]


def d_apply(params, state, x, train):
    """images ``[B, size, size, channels]`` -> logits ``[B]`` (real > 0), and the new BN state."""
    convs, new_state = params["convs"], []
    x = jax.nn.leaky_relu(layers.conv2d(convs[0], x, stride=2, padding=1), 0.2)
    for i, bn in enumerate(params["bns"]):
        x = layers.conv2d(convs[i + 1], x, stride=2, padding=1)
        x, s = layers.batch_norm(bn, state[i], x, train)
        new_state.append(s)
        x = jax.nn.leaky_relu(x, 0.2)
    return layers.conv2d(convs[-1], x, stride=1, padding=0).reshape(-1), new_state


def bce_with_logits(logits, target):
    """Mean binary cross-entropy of ``sigmoid(logits)`` against ``target`` (0 or 1, or a float), in nats,
    written with log-sigmoid so large logits do not overflow (PyTorch's ``BCEWithLogitsLoss``)."""
    logits = logits.astype(jnp.float32)
    return -(target * jax.nn.log_sigmoid(logits) + (1 - target) * jax.nn.log_sigmoid(-logits)).mean()


def d_loss(real_logits, fake_logits):
    """The discriminator's BCE: real labelled 1, fake labelled 0 (sum of the two means, as the tutorial's
    ``errD = errD_real + errD_fake``)."""
    return bce_with_logits(real_logits, 1.0) + bce_with_logits(fake_logits, 0.0)


def g_loss(fake_logits):
    """The generator's non-saturating BCE: fakes labelled real (maximise log D(G(z)))."""
    return bce_with_logits(fake_logits, 1.0)
