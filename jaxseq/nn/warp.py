"""Affine sampling grids and bilinear image sampling: the differentiable warp of a spatial transformer
(Jaderberg et al. 2015), with PyTorch's ``F.affine_grid`` / ``F.grid_sample`` semantics for
``align_corners=False``, ``mode="bilinear"``, ``padding_mode="zeros"``.

Coordinates are normalised to [-1, 1] over the *pixel edges* (align_corners=False): pixel ``j`` of a
width-``W`` image has its centre at ``x_j = (2j + 1) / W - 1``. A grid entry ``(x, y)`` says where in the
input each output pixel reads from (x along the width, y along the height, as PyTorch orders them), so
``θ`` maps output coordinates to input coordinates: the identity ``[[1, 0, 0], [0, 1, 0]]`` reproduces
the image. Images are NHWC.

Sampling is four gathers per output pixel (one per bilinear corner), vmapped over the batch; corners
outside the image read zero. Gradients flow to the image and, through the bilinear weights, to ``θ``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


def _centres(n, dtype):
    """Normalised pixel centres ``(2j + 1) / n - 1`` for ``j < n`` (align_corners=False)."""
    return (2.0 * jnp.arange(n, dtype=dtype) + 1.0) / n - 1.0


def affine_grid(theta, out_hw):
    """theta: [B, 2, 3] -> sampling grid [B, H, W, 2] of normalised input coordinates ``(x, y)``.

    ``grid[b, i, j] = theta[b] @ (x_j, y_i, 1)`` with the pixel centres of an ``out_hw = (H, W)`` output,
    as ``torch.nn.functional.affine_grid(theta, (B, C, H, W), align_corners=False)``.
    """
    theta = jnp.asarray(theta)
    if theta.ndim != 3 or theta.shape[1:] != (2, 3):
        raise ValueError(f"theta has shape {theta.shape}; expected [B, 2, 3]")
    h, w = int(out_hw[0]), int(out_hw[1])
    dtype = theta.dtype if jnp.issubdtype(theta.dtype, jnp.floating) else jnp.float32
    ys, xs = jnp.meshgrid(_centres(h, dtype), _centres(w, dtype), indexing="ij")   # [H, W] each
    base = jnp.stack([xs, ys, jnp.ones_like(xs)], -1)                              # [H, W, 3]
    return jnp.einsum("hwk,bck->bhwc", base, theta.astype(dtype))


def _sample_one(image, grid):
    """image: [H, W, C], grid: [Ho, Wo, 2] -> [Ho, Wo, C] (bilinear, zeros outside)."""
    h, w = image.shape[0], image.shape[1]
    # normalised -> pixel index space, where pixel j's centre sits at j (align_corners=False)
    ix = ((grid[..., 0] + 1.0) * w - 1.0) / 2.0
    iy = ((grid[..., 1] + 1.0) * h - 1.0) / 2.0
    x0, y0 = jnp.floor(ix), jnp.floor(iy)
    wx1, wy1 = ix - x0, iy - y0              # the only path from theta to the output: the weights
    wx0, wy0 = 1.0 - wx1, 1.0 - wy1
    x0i, y0i = x0.astype(jnp.int32), y0.astype(jnp.int32)
    out = 0.0
    for dy, wy in ((0, wy0), (1, wy1)):
        for dx, wx in ((0, wx0), (1, wx1)):
            xi, yi = x0i + dx, y0i + dy
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            v = image[jnp.clip(yi, 0, h - 1), jnp.clip(xi, 0, w - 1)]            # [Ho, Wo, C] gather
            out = out + v * jnp.where(inside, wx * wy, 0.0)[..., None].astype(image.dtype)
    return out


def bilinear_sample(images, grid):
    """images: [B, H, W, C], grid: [B, Ho, Wo, 2] (normalised ``(x, y)``) -> [B, Ho, Wo, C], as
    ``torch.nn.functional.grid_sample(..., mode="bilinear", padding_mode="zeros", align_corners=False)``."""
    images, grid = jnp.asarray(images), jnp.asarray(grid)
    if images.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != images.shape[0]:
        raise ValueError(f"images {images.shape} and grid {grid.shape}: expected [B, H, W, C] and "
                         f"[B, Ho, Wo, 2] with the same B")
    return jax.vmap(_sample_one)(images, grid.astype(images.dtype))


def warp(images, theta, out_hw=None):
    """``bilinear_sample(images, affine_grid(theta, out_hw))``; ``out_hw`` defaults to the input's size.
    images: [B, H, W, C], theta: [B, 2, 3] -> [B, Ho, Wo, C]."""
    out_hw = tuple(images.shape[1:3]) if out_hw is None else out_hw
    return bilinear_sample(images, affine_grid(theta, out_hw))


def identity_theta(batch, dtype=jnp.float32):
    """[batch, 2, 3] identity transforms."""
    return jnp.broadcast_to(jnp.asarray(IDENTITY, dtype), (batch, 2, 3))
