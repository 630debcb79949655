"""The spatial transformer's figures: distorted inputs next to what the transformer makes of them."""
from __future__ import annotations

from jaxseq.viz.figures import save_figure
from jaxseq.viz.images import grid_array, save_progression


def warp_rows(path, clean, distorted, warped, title):
    """Three labelled rows: the test digits, their distortion (the input) and the STN's output."""
    return save_progression(path, [clean, distorted, warped], ["test digit", "distorted input", "STN output"],
                            title)


def warp_grids(path, distorted, warped, title, ncols=8):
    """The tutorial's picture: a grid of inputs beside the grid of their warps (``[N, H, W(, 1)]`` in
    [0, 1], N = ncols**2 fills both squares)."""
    panels = [(grid_array(distorted, ncols), "distorted input"), (grid_array(warped, ncols), "STN output")]

    def draw(fig):
        for ax, (g, name) in zip(fig.subplots(1, 2), panels):
            ax.imshow(g, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(name, fontsize=10)
            ax.axis("off")
        fig.suptitle(title, fontsize=10)
    return save_figure(path, draw, size=(8, 4.3), dpi=100)
