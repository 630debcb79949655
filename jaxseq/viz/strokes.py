"""Drawing stroke-3 sequences (handwriting lines, sketches): the SVG writer, matplotlib line and grid
plots, mixture-density heatmaps, and the Graves window (phi, window vector) figures.

Plain numpy + matplotlib (Agg-safe: callers pass an ``Axes`` or a file path); the SVG writer has no
dependency at all. Coordinates are screen-like (y grows downwards), so plots flip the y axis.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

from jaxseq.data.files import write_atomic
from jaxseq.data.strokes import bounds, split_strokes, to_absolute

MAX_GRID_CELLS = 1000   # drawings in one PNG grid (matplotlib's time and memory grow with each cell)
#: x-height of a handwriting line in the units of ``jaxseq.data.iam`` (offsets over their std): the
#: median height of sampled lines holding only x-height letters ("a man saw a cow") is 3.9, overshoot
#: included
HANDWRITING_X_HEIGHT = 3.5
X_HEIGHT_PX = 40.0      # default x-height of written handwriting, in px


def handwriting_layout(x_height=X_HEIGHT_PX, stroke_width=None, line_height=None, width=None):
    """Keyword arguments for :func:`save_svg` / :func:`save_lines_png` that draw handwriting lines with
    an x-height of ``x_height`` px: a thin pen (``x_height / 20``, 2 px by default), half an x-height
    of margin, three quarters of one between line boxes, and the optional ``line_height`` / ``width`` in px."""
    if not x_height > 0:
        raise ValueError(f"x_height {x_height}: give a positive number of pixels")
    return {"scale": x_height / HANDWRITING_X_HEIGHT, "margin": 0.5 * x_height, "line_gap": 0.75 * x_height,
            "stroke_width": round(x_height / 20.0, 2) if stroke_width is None else stroke_width,
            "line_height": line_height, "width": width}


# ------------------------------------------------------------------------------------------- SVG
def layout_lines(strokes, *, scale=1.0, margin=10.0, line_gap=None, line_height=None, width=None):
    """Lines of stroke-3 (one ``[T, 3]`` array or a list) placed on one canvas, top to bottom, in
    output units (px): each line's polylines scaled by ``scale``, left-aligned at ``margin``. Lines are
    stacked by their bounding boxes, ``line_gap`` apart (default 10% of the tallest), so they never
    overlap; ``line_height`` (optional) is the least distance from one line's top to the next one's.
    ``width`` (optional) fixes the canvas width: every line is shrunk by one common factor when the
    widest would not fit. Returns ``(list of lists of polylines [n, 2], (width, height))``."""
    if isinstance(strokes, np.ndarray) and strokes.ndim == 2:
        strokes = [strokes]
    items = [split_strokes(np.asarray(s)) for s in strokes]
    boxes = [bounds(lines) if lines else (0.0, 0.0, 0.0, 0.0) for lines in items]
    widest = max([b[2] - b[0] for b in boxes] + [1e-9])
    if width is not None and widest * scale > width - 2 * margin:
        scale = max(width - 2 * margin, 1.0) / widest
    heights = [(b[3] - b[1]) * scale for b in boxes]
    gap = line_gap if line_gap is not None else 0.1 * max(heights + [1.0])
    out, y0 = [], margin
    for lines, b, h in zip(items, boxes, heights):
        out.append([(p - np.array(b[:2])) * scale + np.array([margin, y0]) for p in lines])
        y0 += max(h + gap, line_height or 0.0)
    canvas_w = width if width is not None else widest * scale + 2 * margin
    return out, (max(canvas_w, 1.0), y0 - (gap if items else 0.0) + margin)


def _finite_lines(path, strokes):
    """``strokes`` as a list of stroke-3 arrays, refused (naming ``path``) if any point is not finite."""
    if isinstance(strokes, np.ndarray) and strokes.ndim == 2:
        strokes = [strokes]
    if not all(np.isfinite(np.asarray(s, np.float64)).all() for s in strokes):
        raise ValueError(f"{path}: the drawings hold non-finite points (NaN/inf); nothing written")
    return strokes


def save_svg(path, strokes, *, stroke_width=1.5, color="black", margin=10.0, line_gap=None,
             scale=1.0, titles=None, line_height=None, width=None):
    """Write a dependency-free SVG: one ``<path>`` per pen-down stroke.

    ``strokes`` is one stroke-3 array ``[T, 3]`` or a list of them (several handwriting lines, laid out
    by :func:`layout_lines` with ``scale``, ``margin``, ``line_gap``, ``line_height``, ``width``).
    ``titles`` (optional, one per line) are written as ``<title>`` elements for screen readers.
    Returns the path.
    """
    strokes = _finite_lines(path, strokes)
    placed, (width, total) = layout_lines(strokes, scale=scale, margin=margin, line_gap=line_gap,
                                          line_height=line_height, width=width)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.1f}" height="{total:.1f}" '
            f'viewBox="0 0 {width:.1f} {total:.1f}">\n<rect width="100%" height="100%" fill="white"/>\n')

    def write(binary):
        f = _Utf8(binary)
        f.write(head)
        for i, lines in enumerate(placed):
            f.write(f'<g id="line{i}">\n')
            if titles is not None:
                f.write(f"<title>{escape(str(titles[i]))}</title>\n")
            for q in lines:
                d = "M" + " L".join(f"{x:.2f},{y:.2f}" for x, y in q)
                f.write(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{stroke_width}" '
                        f'stroke-linecap="round" stroke-linejoin="round"/>\n')
            f.write("</g>\n")
        f.write("</svg>\n")
    return write_atomic(path, write)


def save_lines_png(path, strokes, *, stroke_width=1.5, color="black", margin=10.0, line_gap=None,
                   scale=1.0, line_height=None, width=None):
    """The PNG twin of :func:`save_svg`: the same layout, one output unit per pixel, pen strokes
    ``stroke_width`` px wide, anti-aliased on white. Returns the path."""
    from matplotlib.figure import Figure
    strokes = _finite_lines(path, strokes)
    placed, (w, h) = layout_lines(strokes, scale=scale, margin=margin, line_gap=line_gap,
                                  line_height=line_height, width=width)
    w, h, dpi = int(np.ceil(w)), int(np.ceil(h)), 100
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    lw = stroke_width * 72.0 / dpi                            # px -> points
    for lines in placed:
        for q in lines:
            if len(q) == 1:
                ax.plot(q[:, 0], q[:, 1], ".", color=color, markersize=lw)
            else:
                ax.plot(q[:, 0], q[:, 1], "-", color=color, linewidth=lw, solid_capstyle="round",
                        solid_joinstyle="round")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)                                         # y grows downwards, as in the SVG
    ax.set_axis_off()
    return write_atomic(path, lambda f: fig.savefig(f, dpi=dpi, format="png", facecolor="white"))


class _Utf8:
    """``write(str)`` onto a binary file."""
    def __init__(self, f):
        self.f = f

    def write(self, s):
        self.f.write(s.encode("utf-8"))


# ------------------------------------------------------------------------------------ matplotlib
def plot_strokes(ax, stroke3, *, color="black", linewidth=1.2, flip_y=True, equal=True, axis_off=True,
                 colors=None, **style):
    """Draw a stroke-3 sequence on ``ax``, one polyline per stroke (pen-up moves not drawn).

    ``colors``: optional colormap name to give each stroke its own colour (shows stroke order).
    """
    lines = split_strokes(stroke3)
    cmap = None
    if colors is not None:
        import matplotlib
        cmap = matplotlib.colormaps[colors]
    for i, p in enumerate(lines):
        c = cmap(i / max(len(lines) - 1, 1)) if cmap is not None else color
        if len(p) == 1:
            ax.plot(p[:, 0], p[:, 1], ".", color=c, markersize=linewidth * 2, **style)
        else:
            ax.plot(p[:, 0], p[:, 1], "-", color=c, linewidth=linewidth, solid_capstyle="round", **style)
    if equal:
        ax.set_aspect("equal", adjustable="datalim")
    if flip_y and not ax.yaxis_inverted():
        ax.invert_yaxis()
    if axis_off:
        ax.set_axis_off()
    return ax


def plot_grid(path, strokes_list, titles=None, ncols=4, *, cell=(3.0, 2.0), dpi=100, **style):
    """Save a PNG grid of stroke-3 drawings (one per cell, optional titles). Returns the path."""
    from matplotlib.figure import Figure    # no pyplot: no global figure state, works headless

    n = len(strokes_list)
    if n > MAX_GRID_CELLS:
        raise ValueError(f"{path}: a PNG grid holds at most {MAX_GRID_CELLS} drawings, not {n}; write an "
                         f".svg for more")
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig = Figure(figsize=(cell[0] * ncols, cell[1] * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            plot_strokes(ax, strokes_list[i], **style)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
        else:
            ax.set_axis_off()
    fig.tight_layout()
    return write_atomic(path, lambda f: fig.savefig(f, dpi=dpi, format="png"))


def mixture_to_absolute(params, stroke3):
    """Shift per-step mixture means from offsets to absolute positions.

    ``params``: dict from :func:`jaxseq.nn.mixtures.split_bivariate` with ``[T, M]`` arrays, where step ``t``
    predicts the offset of point ``t + 1`` after reading point ``t``; so the absolute mean is
    ``abs(point t) + mu``. Returns a numpy dict with the same keys.
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    pos = to_absolute(stroke3)[: p["mu1"].shape[0]]
    p["mu1"] = p["mu1"] + pos[:, :1]
    p["mu2"] = p["mu2"] + pos[:, 1:2]
    return p


def mixture_density_grid(params, xs, ys):
    """Sum over time of the per-step mixture densities on a grid (Graves fig. 10 style heat map).

    params: absolute-position dict of ``[T, M]`` arrays (log_pi, mu1, mu2, log_s1, log_s2, rho);
    xs: [W], ys: [H] -> density [H, W]. Each step's density is normalised to peak 1 so that sharp and
    diffuse predictions are both visible (as in the paper's figure).
    """
    X, Y = np.meshgrid(np.asarray(xs, np.float64), np.asarray(ys, np.float64))       # [H, W]
    out = np.zeros_like(X)
    for t in range(params["mu1"].shape[0]):          # numpy, outside jit: a plot helper, not a model
        s1, s2 = np.exp(params["log_s1"][t]), np.exp(params["log_s2"][t])
        rho, pi = params["rho"][t], np.exp(params["log_pi"][t])
        z1 = (X[..., None] - params["mu1"][t]) / s1
        z2 = (Y[..., None] - params["mu2"][t]) / s2
        om = 1.0 - rho * rho
        dens = pi * np.exp(-(z1 * z1 + z2 * z2 - 2 * rho * z1 * z2) / (2 * om)) / (
            2 * np.pi * s1 * s2 * np.sqrt(om))
        d = dens.sum(-1)
        out += d / max(d.max(), 1e-300)
    return out


def plot_mixture_density(ax, stroke3, params, *, mode="heatmap", grid=200, margin=0.05, cmap="magma",
                         min_weight=0.05, draw_strokes=True, flip_y=True):
    """Visualise per-step mixture predictions along a line.

    ``params``: absolute-position mixture dict (see :func:`mixture_to_absolute`).
    ``mode="heatmap"``: summed per-step densities on a ``grid x grid`` lattice (log colour scale).
    ``mode="ellipses"``: 1-sigma covariance ellipse of every component with weight >= ``min_weight``,
    alpha = weight.
    """
    from matplotlib.patches import Ellipse

    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x0, y0, x1, y1 = bounds(stroke3)
    mx, my = p["mu1"], p["mu2"]
    x0, x1 = min(x0, mx.min()), max(x1, mx.max())
    y0, y1 = min(y0, my.min()), max(y1, my.max())
    px, py = margin * (x1 - x0 + 1e-9), margin * (y1 - y0 + 1e-9)
    if mode == "heatmap":
        w = max(int(grid * (x1 - x0 + 2 * px) / max(y1 - y0 + 2 * py, 1e-9)), grid // 4)
        xs = np.linspace(x0 - px, x1 + px, min(w, 4 * grid))
        ys = np.linspace(y0 - py, y1 + py, grid)
        dens = mixture_density_grid(p, xs, ys)
        ax.imshow(np.log1p(dens), extent=(xs[0], xs[-1], ys[-1], ys[0]), cmap=cmap,
                  interpolation="bilinear", aspect="equal")
    elif mode == "ellipses":
        for t in range(mx.shape[0]):
            pi = np.exp(p["log_pi"][t])
            for m in np.flatnonzero(pi >= min_weight):
                s1, s2, r = np.exp(p["log_s1"][t, m]), np.exp(p["log_s2"][t, m]), p["rho"][t, m]
                cov = np.array([[s1 * s1, r * s1 * s2], [r * s1 * s2, s2 * s2]])
                vals, vecs = np.linalg.eigh(cov)
                ang = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
                ax.add_patch(Ellipse((mx[t, m], my[t, m]), 2 * np.sqrt(vals[1]), 2 * np.sqrt(vals[0]),
                                     angle=ang, fill=False, color="tab:red", alpha=float(pi[m]),
                                     linewidth=0.5))
        ax.set_xlim(x0 - px, x1 + px)
        ax.set_ylim(y0 - py, y1 + py)
    else:
        raise ValueError(f"mode must be 'heatmap' or 'ellipses', got {mode!r}")
    if draw_strokes:
        plot_strokes(ax, stroke3, color="tab:cyan" if mode == "heatmap" else "black", linewidth=0.6,
                     flip_y=False, equal=False, axis_off=False)
    ax.set_aspect("equal")
    if flip_y and not ax.yaxis_inverted():
        ax.invert_yaxis()
    return ax


def plot_attention(ax, phi, text, *, cmap="viridis"):
    """phi: [T, U] soft-window weights over the U characters of ``text`` through time (Graves fig. 13)."""
    phi = np.asarray(phi, np.float64)
    U = phi.shape[1]
    ax.imshow(phi.T, aspect="auto", origin="lower", cmap=cmap, interpolation="nearest")
    chars = list(text)[:U] + [""] * max(0, U - len(text))
    ax.set_yticks(range(U))
    ax.set_yticklabels([c if c != " " else "␣" for c in chars], fontsize=max(4, min(9, 400 // max(U, 1))))
    ax.set_xlabel("time step")
    ax.set_ylabel("character")
    return ax


def plot_window(ax, window, charset, *, cmap="viridis"):
    """window: [T, V] soft-window vectors through time; ``charset``: V symbols labelling the rows."""
    window = np.asarray(window, np.float64)
    V = window.shape[1]
    ax.imshow(window.T, aspect="auto", origin="lower", cmap=cmap, interpolation="nearest")
    labels = [str(c) if str(c) != " " else "␣" for c in list(charset)[:V]]
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=max(3, min(8, 300 // max(V, 1))))
    ax.set_xlabel("time step")
    ax.set_ylabel("window")
    return ax


def save_line_attention(path, stroke3, phi, text, *, size=(10, 6), dpi=110):
    """A PNG of one handwriting line above its window weights ``phi [T, U]`` over ``text`` (written
    atomically). Returns the path."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=size)
    ax1, ax2 = fig.subplots(2, 1)
    plot_strokes(ax1, stroke3)
    plot_attention(ax2, phi, text)
    fig.tight_layout()
    return write_atomic(path, lambda f: fig.savefig(f, dpi=dpi, format="png"))
