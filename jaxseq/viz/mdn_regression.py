"""The figure of the MDN toy problem (Bishop's inverse problem): single-valued fits, the MDN's p(y | x)
with its components, and conditional densities next to the exact ones. Draws the arrays of
:func:`jaxseq.models.mdn_regression.figure_data`."""
from __future__ import annotations

import numpy as np

from jaxseq.viz.figures import save_figure


def toy_figure(path, fd, x, y, n_mix):
    """Three panels from ``fd`` (figure data) over the points ``(x, y)``; returns the path."""
    xs, ys = fd["xs"], fd["ys"]

    def draw(fig):
        ax = fig.subplots(1, 3)
        ax[0].scatter(x, y, s=2, c="0.6", label="data")
        ax[0].plot(xs, fd["y_hat"], "r", lw=2, label="least-squares net")
        gm, gs = fd["gauss_mu"], fd["gauss_sigma"]
        ax[0].plot(xs, gm, "b--", lw=2, label="Gaussian (1 comp.) mean")
        ax[0].fill_between(xs, gm - 2 * gs, gm + 2 * gs, color="b", alpha=0.1, label="± 2 sigma")
        ax[0].set(xlabel="x", ylabel="y", title="single-valued fits average the branches")
        ax[0].legend(fontsize=8, loc="upper left")
        ax[1].pcolormesh(xs, ys, np.minimum(fd["density"], 8.0), shading="auto", cmap="viridis")
        ax[1].scatter(x, y, s=1, c="w", alpha=0.3)
        pis = fd["pi"]
        for m in range(pis.shape[1]):
            keep = pis[:, m] > 0.05  # show a component only where it carries weight
            ax[1].scatter(xs[keep], fd["mu"][keep, m], s=3 + 12 * pis[keep, m], c="r")
        ax[1].set(xlabel="x", ylabel="y", ylim=(-0.1, 1.1),
                  title=f"MDN p(y|x) ({n_mix} comp.); red: means, size = weight")
        for (x0, (mdn_d, true_d)), c in zip(fd["conditional"].items(), ("C0", "C1", "C2", "C3", "C4")):
            ax[2].plot(ys, mdn_d, c, label=f"MDN, x={x0}")
            ax[2].plot(ys, true_d, c + ":", label=f"true, x={x0}")
        ax[2].set(xlabel="y", ylabel="p(y | x)", title="conditional densities (dotted: exact)")
        ax[2].legend(fontsize=7)
    return save_figure(path, draw, size=(15, 4.4), dpi=70)
