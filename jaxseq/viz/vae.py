"""Image panels of the VAE experiment: a grid of 28x28 images (reconstructions, samples, the 2-D latent
manifold) with a title, dark ink on white."""
from __future__ import annotations

import numpy as np

from jaxseq.viz.figures import image_grid, save_figure


def save_image_grid(path, images, cols, title, size=(6, 6), dpi=80):
    """``images [N, D]`` or ``[N, H, W]`` in [0, 1] (D a square number) as ``N / cols`` rows without gaps."""
    images = np.asarray(images, np.float32)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        images = images.reshape(len(images), side, side)
    grid = image_grid(images, ncols=cols, pad=0)

    def draw(fig):
        ax = fig.subplots()
        ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
        ax.set_title(title, fontsize=9)
    return save_figure(path, draw, size=size, dpi=dpi)
