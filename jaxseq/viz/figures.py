"""Generic figures: save a matplotlib figure to a file without pyplot (thread- and Agg-safe), a labelled
heatmap (attention matrices), an image grid, and training curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxseq.data.files import write_atomic


def save_figure(path, draw, size=(10, 3), dpi=110):
    """Make a figure of ``size`` inches, call ``draw(fig)``, save it to ``path`` (folders created).
    Uses ``matplotlib.figure.Figure`` directly, so no GUI backend is ever touched. Returns the path."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=size)
    draw(fig)
    fig.tight_layout()
    path = Path(path)
    fmt = path.suffix[1:].lower() or "png"
    write_atomic(path, lambda f: fig.savefig(f, dpi=dpi, format=fmt))   # never a half-written image
    return path


def heatmap(ax, matrix, xlabels=None, ylabels=None, *, cmap="viridis", title=None, xlabel=None,
            ylabel=None):
    """``matrix [rows, cols]`` as an image with tick labels (e.g. attention: target rows x source
    columns)."""
    m = np.asarray(matrix, np.float64)
    ax.imshow(m, aspect="auto", cmap=cmap, interpolation="nearest", vmin=0.0)
    if xlabels is not None:
        ax.set_xticks(range(len(xlabels)))
        ax.set_xticklabels(xlabels, rotation=90)
    if ylabels is not None:
        ax.set_yticks(range(len(ylabels)))
        ax.set_yticklabels(ylabels)
    return _label(ax, title, xlabel, ylabel)


def _label(ax, title=None, xlabel=None, ylabel=None):
    """Set whichever of the title and axis labels are given; returns ``ax``."""
    for setter, text in ((ax.set_title, title), (ax.set_xlabel, xlabel), (ax.set_ylabel, ylabel)):
        if text:
            setter(text)
    return ax


def image_grid(images, ncols=None, pad=1, value=1.0):
    """Images ``[N, H, W]`` (values in [0, 1]) -> one ``[rows*(H+pad), cols*(W+pad)]`` mosaic."""
    images = np.asarray(images, np.float32)
    n, h, w = images.shape[:3]
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), value, np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return out


def curves(ax, series, *, xlabel="step", ylabel=None, title=None, logy=False):
    """``series``: {label: (xs, ys)} drawn as lines with a legend."""
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, label=label)
    _label(ax, title, xlabel, ylabel)
    if logy:
        ax.set_yscale("log")
    if series:
        ax.legend()
    return ax
