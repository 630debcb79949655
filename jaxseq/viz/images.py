"""Image grids of the image models (issue 16): a pixel-exact PNG of a batch of samples, and a progression
figure (the same fixed noise at several training steps, one labelled row per step).

Images are floats in [0, 1] (``jaxseq.data.images.from_signed`` turns a tanh generator's output into
that), grey ``[N, H, W]`` / ``[N, H, W, 1]`` or RGB ``[N, H, W, 3]``. The mosaic is
:func:`jaxseq.viz.figures.image_grid`; the PNG is written by Pillow (a matplotlib dependency), so a grid
of 32x32 samples stays a few tens of kB.
"""
from __future__ import annotations

import io

import numpy as np

from jaxseq.data.files import write_atomic
from jaxseq.viz.figures import image_grid, save_figure


def grid_array(images, ncols=None, pad=2, value=1.0):
    """``[N, H, W(, C)]`` in [0, 1] -> one mosaic ``[rows*(H+pad)-pad, cols*(W+pad)-pad(, C)]``."""
    x = np.asarray(images, np.float32)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 3:
        return image_grid(x, ncols=ncols, pad=pad, value=value)
    if x.ndim != 4:
        raise ValueError(f"images of shape {x.shape}: give [N, H, W], [N, H, W, 1] or [N, H, W, 3]")
    return np.stack([image_grid(x[..., c], ncols=ncols, pad=pad, value=value) for c in range(x.shape[-1])], -1)


def save_grid(path, images, ncols=None, pad=2, scale=2, value=1.0):
    """Write ``images`` as one PNG mosaic, each pixel drawn ``scale`` x ``scale`` (nearest). Returns the
    path."""
    from PIL import Image
    g = grid_array(images, ncols, pad, value)
    g = np.round(np.clip(g, 0.0, 1.0) * 255).astype(np.uint8)
    if scale > 1:
        g = g.repeat(scale, 0).repeat(scale, 1)
    buf = io.BytesIO()
    Image.fromarray(g).save(buf, format="PNG", optimize=True)
    return write_atomic(path, buf.getvalue())


def save_progression(path, rows, labels, title=None, pad=2, dpi=100):
    """One labelled row per training step: ``rows`` a list of ``[n, H, W(, C)]`` batches (the same fixed
    noise each time), ``labels`` their captions (e.g. ``"step 500"``)."""
    grids = [grid_array(r, ncols=len(r), pad=pad) for r in rows]
    h, w = grids[0].shape[:2]

    def draw(fig):
        axes = fig.subplots(len(grids), 1, squeeze=False)[:, 0]
        for ax, g, lab in zip(axes, grids, labels):
            ax.imshow(g, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(lab, rotation=0, ha="right", va="center", fontsize=9)
        if title:
            axes[0].set_title(title, fontsize=10)
    return save_figure(path, draw, size=(9.5, 0.4 + len(grids) * 8.0 * h / w * 1.1), dpi=dpi)
