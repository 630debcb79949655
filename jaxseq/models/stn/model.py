"""Spatial transformer network (Jaderberg et al. 2015) in front of the CNN classifier, as in PyTorch's
"Spatial Transformer Networks" tutorial.

A localisation net reads the image and regresses the six numbers of an affine map θ ``[B, 2, 3]``; the
image is resampled under θ (:func:`jaxseq.nn.warp.warp`, bilinear, zeros outside) and the warped image
goes to the CNN of :mod:`jaxseq.models.cnn.model`. The localisation net is the tutorial's:
conv 7x7 -> 8, max-pool 2, ReLU, conv 5x5 -> 10, max-pool 2, ReLU, fc 32, ReLU, fc 6, with the last
layer's weights zero and its bias the identity map, so training starts from the plain CNN and the
transformer learns to move away from the identity only where that lowers the loss.

Params: ``{"cnn": <CNN params>, "loc": {"conv": [...], "fc": [...]}}``; without ``"loc"`` (``stn=False``)
the model is the plain CNN, the baseline of the comparison.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxseq.models.cnn import model as cnn
from jaxseq.nn import warp as warp_lib
from jaxseq.nn.layers import conv2d, conv_init, dense, dense_init, max_pool


@dataclasses.dataclass
class STNConfig:
    stn: bool = True                   # False: the plain CNN (no localisation net, no warp)
    loc_channels: tuple = (8, 10)      # localisation conv widths (the tutorial: 8, 10)
    loc_kernels: tuple = (7, 5)        # their kernel sizes, valid convs, each followed by max-pool 2
    loc_hidden: int = 32               # the localisation fc layer before the 6 outputs
    cnn: cnn.CNNConfig = dataclasses.field(default_factory=cnn.CNNConfig)

    def __post_init__(self):
        if isinstance(self.cnn, dict):     # from a checkpoint's JSON meta
            self.cnn = cnn.CNNConfig(**self.cnn)
        self.loc_channels = tuple(int(c) for c in self.loc_channels)
        self.loc_kernels = tuple(int(k) for k in self.loc_kernels)
        if len(self.loc_channels) != len(self.loc_kernels) or not self.loc_channels:
            raise ValueError(f"loc_channels {self.loc_channels} and loc_kernels {self.loc_kernels} must be "
                             f"non-empty and of the same length")
        if min(self.loc_channels + self.loc_kernels) < 1 or self.loc_hidden < 1:
            raise ValueError(f"localisation widths {self.loc_channels}, kernels {self.loc_kernels} and "
                             f"hidden {self.loc_hidden} must be >= 1")
        if self.stn and self.loc_spatial_out < 1:
            raise ValueError(f"a {self.cnn.size}x{self.cnn.size} image is too small for the localisation "
                             f"convs {self.loc_kernels} with max-pool 2")

    @property
    def loc_spatial_out(self):
        """Height (= width) after the localisation convs and pools (28 -> 22 -> 11 -> 7 -> 3)."""
        s = self.cnn.size
        for k in self.loc_kernels:
            s = (s - k + 1) // 2
        return s


def loc_init(key, cfg: STNConfig):
    """Localisation params; the last fc layer starts at zero weights and the identity bias."""
    kc, kf = jax.random.split(key)
    ins = (cfg.cnn.in_ch,) + cfg.loc_channels[:-1]
    conv = [conv_init(k, ks, a, b) for k, ks, a, b in
            zip(jax.random.split(kc, len(ins)), cfg.loc_kernels, ins, cfg.loc_channels)]
    flat = cfg.loc_channels[-1] * cfg.loc_spatial_out ** 2
    head = {"w": jnp.zeros((cfg.loc_hidden, 6), jnp.float32),
            "b": jnp.asarray(warp_lib.IDENTITY, jnp.float32).reshape(6)}
    return {"conv": conv, "fc": [dense_init(kf, flat, cfg.loc_hidden), head]}


def init(key, cfg: STNConfig):
    """``{"cnn": ..., "loc": ...}`` (no ``"loc"`` when ``cfg.stn`` is False)."""
    kc, kl = jax.random.split(key)
    params = {"cnn": cnn.init(kc, cfg.cnn)}
    if cfg.stn:
        params["loc"] = loc_init(kl, cfg)
    return params


def _nhwc(x):
    return x[..., None] if x.ndim == 3 else x


def localise(loc, x):
    """θ ``[B, 2, 3]`` for images ``x [B, H, W, C]`` in [0, 1] (centred to [-1, 1] here, as the CNN does)."""
    h = _nhwc(x).astype(jnp.float32) * 2.0 - 1.0
    for p in loc["conv"]:
        h = jax.nn.relu(max_pool(conv2d(p, h), 2))          # the tutorial's order: conv, pool, ReLU
    h = jax.nn.relu(dense(loc["fc"][0], h.reshape(h.shape[0], -1)))
    return dense(loc["fc"][1], h).reshape(-1, 2, 3)


def transform(params, x):
    """``(warped [B, H, W, C], theta [B, 2, 3])``: what the CNN sees; the identity without ``"loc"``."""
    x = _nhwc(jnp.asarray(x)).astype(jnp.float32)
    if "loc" not in params:
        return x, warp_lib.identity_theta(x.shape[0])
    theta = localise(params["loc"], x)
    return warp_lib.warp(x, theta), theta


def apply(params, x, *, train, key=None, rate=cnn.DROPOUT):
    """Logits ``[B, n_classes]`` of images ``x [B, H, W, C]`` in [0, 1]: warp (when the params hold a
    localisation net), then the CNN (dropout of ``rate`` with ``key`` in train mode)."""
    warped, _ = transform(params, x)
    return cnn.apply(params["cnn"], warped, train=train, key=key, rate=rate)
