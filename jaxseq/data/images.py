"""Array transforms shared by the image models (issue 16): scaling, channel axes, padding and cropping.

Every function takes numpy or JAX arrays and returns the same kind (numpy in, numpy out; JAX in, JAX
out), so the same call serves the data pipeline on the host and a jitted step. Images are NHWC
(``[N, H, W, C]``) once :func:`to_nhwc` has run; the IDX loaders give flattened uint8 ``[N, 784]``.

    x = to_nhwc(train_x)              # uint8 [N, 784] -> [N, 28, 28, 1]
    x = to_unit(x)                    # float32 in [0, 1]   (classifiers, VAE, Fréchet features)
    x = to_signed(x)                  # float32 in [-1, 1]  (GAN generators with a tanh output)
    x = pad_to(x, 32)                 # 28 -> 32 with 2 pixels of zeros (black) on every side (DCGAN)
    x = center_crop(x, 28)            # 32 -> 28, the inverse of pad_to
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def _xp(x):
    return np if isinstance(x, np.ndarray) else jnp


def to_unit(x):
    """uint8 in 0..255 -> float32 in [0, 1]; a float array is taken to be in [0, 1] already (cast)."""
    xp = _xp(x)
    if x.dtype == xp.uint8:
        return x.astype(xp.float32) / 255.0
    return x.astype(xp.float32)


def to_signed(x):
    """uint8 0..255 or float [0, 1] -> float32 in [-1, 1] (``2 u - 1``)."""
    return to_unit(x) * 2.0 - 1.0


def from_signed(x):
    """float in [-1, 1] (a tanh generator's output) -> float32 in [0, 1], clipped."""
    xp = _xp(x)
    return xp.clip((x.astype(xp.float32) + 1.0) * 0.5, 0.0, 1.0)


def to_uint8(x):
    """float in [0, 1] -> uint8 0..255 (rounded, clipped); what PNG writers and the loaders use."""
    xp = _xp(x)
    return xp.round(xp.clip(x.astype(xp.float32), 0.0, 1.0) * 255.0).astype(xp.uint8)


def to_nhwc(x, size=None, channels=1):
    """Images in any of ``[N, H*W*C]``, ``[N, H, W]`` or ``[N, H, W, C]`` -> ``[N, H, W, C]``.

    A flat ``[N, D]`` input needs ``size`` (H = W) unless D = size*size*channels with a square size,
    which is inferred (784 -> 28x28x1, 3072 with channels=3 -> 32x32x3 as NHWC)."""
    xp = _xp(x)
    if x.ndim == 4:
        return x
    if x.ndim == 3:
        return x[..., None]
    if x.ndim != 2:
        raise ValueError(f"images of shape {tuple(x.shape)}: expected [N, D], [N, H, W] or [N, H, W, C]")
    d = x.shape[1]
    if size is None:
        side = int(round((d / channels) ** 0.5))
        if side * side * channels != d:
            raise ValueError(f"flat images of {d} values are not square {channels}-channel images; "
                             f"give size=")
        size = side
    if size * size * channels != d:
        raise ValueError(f"flat images of {d} values do not hold {size}x{size}x{channels} images")
    return xp.reshape(x, (x.shape[0], size, size, channels))


def pad_to(x, size, value=0):
    """Pad ``[N, H, W, C]`` (or ``[N, H, W]``) images with ``value`` evenly on every side to
    ``size`` x ``size`` (28 -> 32 adds 2 pixels each side; an odd difference puts the extra row/column
    at the bottom/right)."""
    xp = _xp(x)
    h, w = x.shape[1], x.shape[2]
    if h > size or w > size:
        raise ValueError(f"images of {h}x{w} are larger than the padded size {size}; use center_crop")
    top, left = (size - h) // 2, (size - w) // 2
    pad = [(0, 0), (top, size - h - top), (left, size - w - left)] + [(0, 0)] * (x.ndim - 3)
    return xp.pad(x, pad, constant_values=value)


def center_crop(x, size):
    """The central ``size`` x ``size`` window of ``[N, H, W, C]`` (or ``[N, H, W]``) images; the inverse
    of :func:`pad_to` (32 -> 28 drops 2 pixels each side)."""
    h, w = x.shape[1], x.shape[2]
    if h < size or w < size:
        raise ValueError(f"images of {h}x{w} are smaller than the crop size {size}; use pad_to")
    top, left = (h - size) // 2, (w - size) // 2
    return x[:, top:top + size, left:left + size]


def standardize(x, mean, std):
    """``(x - mean) / std`` per channel (the last axis), e.g. torchvision's Normalize; float32."""
    xp = _xp(x)
    return (x.astype(xp.float32) - xp.asarray(mean, xp.float32)) / xp.asarray(std, xp.float32)


# --- Random affine distortions (the spatial transformer's data, Jaderberg et al. 2015 §4.1) -----------

def random_affine(key, n, *, rotation=45.0, scale=(0.7, 1.2), shift=4.0, size=28):
    """``[n, 2, 3]`` float32 affine maps, one per image, for :func:`jaxseq.nn.warp.warp`: rotation
    ``U(-rotation, rotation)`` degrees, zoom ``s ~ U(*scale)`` (s > 1 enlarges the content) and a shift
    ``U(-shift, shift)`` pixels on each axis of a ``size``-pixel image. ``theta = [R(a) / s | t]`` maps
    output to input coordinates, so the content turns by ``-a``, grows by ``s`` and moves by ``-t``
    (the ranges are symmetric). JAX in, JAX out; same key, same maps."""
    import jax
    ka, ks, kt = jax.random.split(key, 3)
    a = jnp.deg2rad(jax.random.uniform(ka, (n,), jnp.float32, -rotation, rotation))
    s = jax.random.uniform(ks, (n,), jnp.float32, scale[0], scale[1])
    t = jax.random.uniform(kt, (n, 2), jnp.float32, -shift, shift) * (2.0 / size)   # pixels -> [-1, 1]
    c, si = jnp.cos(a) / s, jnp.sin(a) / s
    return jnp.stack([jnp.stack([c, -si, t[:, 0]], -1), jnp.stack([si, c, t[:, 1]], -1)], 1)


def affine_distort(key, x, **kw):
    """Images ``x [N, H, W, C]`` (float, zero background) resampled bilinearly under
    :func:`random_affine` maps (keywords as there; ``size`` is taken from ``x``). Numpy in, numpy out."""
    from jaxseq.nn.warp import warp
    theta = random_affine(key, x.shape[0], size=x.shape[1], **kw)
    out = warp(jnp.asarray(x), theta)
    return np.asarray(out) if isinstance(x, np.ndarray) else out
