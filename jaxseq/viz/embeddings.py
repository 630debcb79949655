"""Word-embedding plots: a labelled 2-D scatter of projected word vectors (PCA)."""
from __future__ import annotations

import numpy as np

from jaxseq.viz.figures import _label, save_figure


def word_scatter(path, words, xy, title=""):
    """Save ``xy [N, 2]`` as points labelled by ``words``. Returns the path."""
    xy = np.asarray(xy, np.float64)

    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        ax.scatter(xy[:, 0], xy[:, 1], s=12, c="tab:blue")
        for w, (a, b) in zip(words, xy):
            ax.annotate(w, (a, b), xytext=(3, 2), textcoords="offset points", fontsize=8)
        _label(ax, title or None, "PC 1", "PC 2")
        ax.title.set_fontsize(9)
    return save_figure(path, draw, size=(7, 6), dpi=100)
