"""Stroke-3 utilities shared by the handwriting (Graves 2013) and Sketch-RNN (Ha & Eck 2017) code.

A stroke-3 sequence is ``[T, 3]`` rows ``(dx, dy, eos)``: the pen moves by ``(dx, dy)`` from the previous
point to this one, and ``eos = 1`` marks the last point of a stroke (the pen lifts after it; Sketch-RNN's
``pen_lifted`` is the same bit). Coordinates are screen-like (y grows downwards), so plots flip the y axis.

Plain numpy; the drawing (SVG, PNG, densities) is in :mod:`jaxseq.viz.strokes`.
"""
from __future__ import annotations

import numpy as np


# ------------------------------------------------------------------------------------- conversions
def to_absolute(offsets, start=(0.0, 0.0)):
    """offsets: [T, >=2] (dx, dy, ...) -> absolute positions [T, 2] (cumulative sum from ``start``)."""
    offsets = np.asarray(offsets, dtype=np.float64)
    return np.cumsum(offsets[:, :2], axis=0) + np.asarray(start, dtype=np.float64)


def to_offsets(points, eos, start=(0.0, 0.0)):
    """Inverse of :func:`to_absolute`: points [T, 2] and eos [T] -> stroke-3 [T, 3] (float32)."""
    points = np.asarray(points, dtype=np.float64)
    d = np.diff(points, axis=0, prepend=np.asarray(start, np.float64)[None, :])
    return np.concatenate([d, np.asarray(eos, np.float64)[:, None]], axis=1).astype(np.float32)


def split_strokes(stroke3, start=(0.0, 0.0)):
    """stroke3: [T, 3] -> list of absolute polylines ``[n_i, 2]``, one per pen-down stroke.

    A stroke ends at a row with ``eos > 0.5``; the offset into the next stroke's first point is a pen-up
    move, so no line is drawn across it. A trailing stroke without ``eos`` (a truncated sample) is kept.
    """
    s = np.asarray(stroke3)
    if s.ndim != 2 or s.shape[1] < 3:
        raise ValueError(f"expected stroke-3 of shape [T, 3], got {s.shape}")
    pts = to_absolute(s, start)
    ends = np.flatnonzero(s[:, 2] > 0.5) + 1
    return [p for p in np.split(pts, ends) if len(p)]


def bounds(stroke3_or_lines):
    """(xmin, ymin, xmax, ymax) of a stroke-3 array or of a list of polylines."""
    lines = _as_lines(stroke3_or_lines)
    allp = np.concatenate(lines) if lines else np.zeros((1, 2))
    return (*allp.min(0), *allp.max(0))


def _as_lines(x):
    if isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] >= 3:
        return split_strokes(x)
    return [np.asarray(p, np.float64)[:, :2] for p in x]


def require_finite(drawings, source):
    """Raise :class:`jaxseq.errors.DataError` if any stroke-3 array of ``drawings`` holds NaN or inf
    (``source``, e.g. ``"sampling from ckpt/x"``, names what produced them), so no NaN file is written."""
    from jaxseq.errors import DataError
    bad = [i for i, d in enumerate(drawings) if not np.isfinite(np.asarray(d, np.float64)).all()]
    if bad:
        raise DataError(f"{source} produced non-finite points (NaN/inf) in {len(bad)} of {len(drawings)} "
                        f"drawings; the checkpoint may be corrupted")
