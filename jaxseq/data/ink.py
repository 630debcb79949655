"""Online handwriting from a person: InkML, IAM-OnDB line XML and a simple JSON format, read into pen
strokes and normalised the way the IAM-OnDB training lines were (:mod:`jaxseq.data.iam`).

Formats (:func:`read` picks one from the file's first bytes):

* **JSON**: a list of strokes, each a list of ``[x, y]`` or ``[x, y, t]`` points, or an object
  ``{"strokes": [...], "text": "its transcript"}`` (what the web demo's pad and ``--save-style`` write);
* **InkML** (W3C): ``<trace>`` elements of comma-separated points whose channels follow the
  ``<traceFormat>`` (X, Y, optional T; default ``X Y``); an ``<annotation type="transcription">``
  is read as the transcript. Difference-encoded traces (``'`` / ``"`` prefixes) are refused by name;
* **IAM-OnDB** line XML (``<StrokeSet><Stroke><Point x= y= time=/>``), parsed by
  :func:`jaxseq.data.iam.parse_line_xml`.

Coordinates are screen-like (y grows downwards), as in IAM-OnDB and in a browser.

Normalisation (:func:`normalise`). IAM-OnDB lines are in whiteboard sensor units, so an IAM-OnDB file
goes through exactly the training pipeline: :func:`jaxseq.data.iam.strokes_to_offsets` with the cache's
stride and clips, divided by the data scale of the checkpoint. A file in any other unit (screen pixels,
a tablet's units, millimetres) has its own size and sampling rate, and both matter to the network: it
learned the point spacing and the letter size of the training lines. Such ink is (1) scaled uniformly so
that its width per character of the transcript is the median of the training lines
(:data:`WIDTH_PER_CHAR`; the aspect ratio, slant and letter shapes are kept), (2) resampled so that the
mean pen-down step is that of the training lines (:data:`STEP`): with usable time stamps at a fixed time
interval, as the training lines' fixed-rate sensor did (slow curves keep more points, fast strokes
fewer); without them (or with synthetic, repeated stamps) evenly along each stroke; either way a device's
event rate no longer matters, then (3) clipped and turned into stroke-3 offsets as in training (first row
``(0, 0)``, ``eos`` on each stroke's last point, pen-up moves into the next stroke's first point).
"""
from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from jaxseq.data import iam
from jaxseq.data.strokes import to_absolute, to_offsets
from jaxseq.errors import DataError

# Statistics of the IAM-OnDB training lines in normalised units (cache with iam.DEFAULTS, the shipped
# checkpoints' data; recomputed by ink_statistics(iam.load(...)) and checked by tests/data/test_ink.py):
WIDTH_PER_CHAR = 3.14   # median over lines of ink width / characters of the text
STEP = 0.666            # median over lines of the mean pen-down step length
HEIGHT = 5.92           # median over lines of the 5-95 percentile ink height (used when no transcript)
IAM_SCALE = 58.8177     # the data scale (std of training offsets, sensor units) of the shipped checkpoints
MAX_POINTS = 100_000    # points in one file at most (a handwritten line has a few hundred to a few thousand)


@dataclasses.dataclass
class Ink:
    """Pen strokes as read: ``strokes`` is a list of float64 ``[n_i, 3]`` arrays ``(x, y, t)`` (``t`` is
    NaN when the file has no time stamps); ``units``: ``"iam"`` for IAM-OnDB sensor units, else None
    (unknown); ``text``: a transcript found in the file, or None; ``source``: where it came from."""
    strokes: list
    units: str | None = None
    text: str | None = None
    source: str = "<ink>"

    @property
    def n_points(self) -> int:
        return int(sum(len(s) for s in self.strokes))


# ----------------------------------------------------------------------------------------- readers
def from_points(strokes, *, text=None, source="<points>", units=None) -> Ink:
    """Ink from a list of strokes, each a list/array of ``[x, y]`` or ``[x, y, t]`` points. Raises
    ValueError naming the stroke and point for anything that is not a finite number."""
    if not isinstance(strokes, (list, tuple)) or not strokes:
        raise ValueError(f"{source}: no strokes (expected a list of strokes, each a list of [x, y, t] points)")
    out, total = [], 0
    for i, s in enumerate(strokes):
        try:
            a = np.asarray(s, np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{source}: stroke {i} is not a list of [x, y] or [x, y, t] numbers") from None
        if a.size == 0:
            continue                      # an empty stroke (a tap the device did not record) is harmless
        if a.ndim != 2 or a.shape[1] not in (2, 3):
            raise ValueError(f"{source}: stroke {i} has shape {list(a.shape)}; each point is [x, y] or [x, y, t]")
        bad = ~np.isfinite(a).all(1)
        if bad.any():
            raise ValueError(f"{source}: stroke {i}, point {int(np.argmax(bad))} is not finite: {a[bad][0].tolist()}")
        if a.shape[1] == 2:
            a = np.concatenate([a, np.full((len(a), 1), np.nan)], 1)
        total += len(a)
        if total > MAX_POINTS:
            raise ValueError(f"{source}: more than {MAX_POINTS} points; write one line of text, not a page")
        out.append(a)
    if not out:
        raise ValueError(f"{source}: every stroke is empty (no points)")
    return Ink(out, units, text, source)


def read_json(data, source="<json>") -> Ink:
    """``[[[x, y, t], ...], ...]`` or ``{"strokes": ..., "text": ...}`` (str or bytes)."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{source}: not valid JSON ({e})") from None
    text = None
    if isinstance(obj, dict):
        if "strokes" not in obj:
            raise DataError(f"{source}: a JSON object needs a 'strokes' list (and optionally 'text')")
        text, obj = obj.get("text"), obj["strokes"]
        if text is not None and not isinstance(text, str):
            raise DataError(f"{source}: 'text' must be a string, not {type(text).__name__}")
    try:
        return from_points(obj, text=text, source=source)
    except ValueError as e:
        raise DataError(str(e)) from None


_INKML_NS = "{http://www.w3.org/2003/InkML}"


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def read_inkml(data, source="<inkml>") -> Ink:
    """W3C InkML: every ``<trace>`` is a stroke; channels from the first ``<traceFormat>`` (default X Y)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise DataError(f"{source}: malformed InkML/XML ({e})") from None
    channels = ["X", "Y"]
    for el in root.iter():
        if _local(el.tag) == "traceFormat":
            channels = [c.attrib.get("name", "").upper() for c in el if _local(c.tag) == "channel"] or channels
            break
    if "X" not in channels or "Y" not in channels:
        raise DataError(f"{source}: the traceFormat has channels {channels}; X and Y are needed")
    ix, iy = channels.index("X"), channels.index("Y")
    it = channels.index("T") if "T" in channels else None
    strokes = []
    for k, tr in enumerate(el for el in root.iter() if _local(el.tag) == "trace"):
        body = (tr.text or "").strip()
        if not body:
            continue
        if re.search(r"['\"!?]", body):
            raise DataError(f"{source}: trace {k} uses InkML difference encoding (' \" ! ?); write explicit "
                            f"values (x y t per point)")
        pts = []
        for j, p in enumerate(body.split(",")):
            vals = p.split()
            try:
                v = [float(x) for x in vals]
            except ValueError:
                raise DataError(f"{source}: trace {k}, point {j} {p.strip()!r} is not numbers") from None
            if len(v) <= max(ix, iy):
                raise DataError(f"{source}: trace {k}, point {j} has {len(v)} values; the traceFormat "
                                f"has {len(channels)} channels {channels}")
            pts.append([v[ix], v[iy]] + ([v[it]] if it is not None and it < len(v) else []))
        strokes.append(pts)
    text = None
    for el in root.iter():
        if _local(el.tag) == "annotation" and el.attrib.get("type", "").lower() in ("transcription", "truth"):
            text = (el.text or "").strip() or None
            break
    if not strokes:
        raise DataError(f"{source}: no <trace> with points")
    try:
        return from_points(strokes, text=text, source=source)
    except ValueError as e:
        raise DataError(str(e)) from None


def read_iam_xml(data, source="<iam xml>") -> Ink:
    """One IAM-OnDB line file (sensor units: normalised exactly as the training lines)."""
    strokes, _ = iam.parse_line_xml(data if isinstance(data, bytes) else data.encode(), source)
    if not strokes:
        raise DataError(f"{source}: no <Stroke> with points")
    return Ink([np.concatenate([s.astype(np.float64), np.full((len(s), 1), np.nan)], 1) for s in strokes],
               "iam", None, source)


def read(path_or_data, source=None) -> Ink:
    """Read a JSON, InkML or IAM-OnDB file (a path, or the file's bytes/str with ``source`` naming it)."""
    if isinstance(path_or_data, (str, Path)) and not str(path_or_data).lstrip().startswith(("[", "{", "<")):
        p = Path(path_or_data)
        if not p.is_file():
            raise FileNotFoundError(f"stroke file {p} does not exist" if not p.exists() else
                                    f"stroke file {p} is not a file")
        data, source = p.read_bytes(), source or str(p)
    else:
        data, source = path_or_data, source or "<ink>"
    head = (data[:2048].decode("utf-8", "replace") if isinstance(data, bytes) else data[:2048]).lstrip()
    if head.startswith(("[", "{")):
        return read_json(data, source)
    if head.startswith("<"):
        if "<ink" in head or "InkML" in head:
            return read_inkml(data, source)
        if "<WhiteboardCaptureSession" in head or "<StrokeSet" in head:
            return read_iam_xml(data, source)
        raise DataError(f"{source}: XML that is neither InkML (<ink>) nor an IAM-OnDB line (<StrokeSet>)")
    raise DataError(f"{source}: not a stroke file: expected JSON ([[x, y, t], ...] per stroke), InkML or "
                    f"IAM-OnDB XML")


# ------------------------------------------------------------------------------------- normalising
def resample_stroke(xy, step):
    """Points every ``step`` along the polyline ``xy [n, 2]`` (first and last kept): ``[m, 2]``."""
    xy = np.asarray(xy, np.float64)
    seg = np.hypot(*np.diff(xy, axis=0).T) if len(xy) > 1 else np.zeros(0)
    length = float(seg.sum())
    if length <= step:
        return xy[[0, -1]] if length > 0 else xy[:1]
    s = np.concatenate([[0.0], np.cumsum(seg)])
    keep = np.concatenate([[True], seg > 0])              # repeated points would make s non-increasing
    m = int(np.ceil(length / step))
    t = np.linspace(0.0, length, m + 1)
    return np.stack([np.interp(t, s[keep], xy[keep, 0]), np.interp(t, s[keep], xy[keep, 1])], -1)


def _time_step(strokes_xy, times):
    """The time between resampled points that gives :data:`STEP` on average (pen-down length / duration
    of the whole line), or None when the time stamps cannot be trusted (absent, decreasing, or mostly
    repeated as with synthetic events): then :func:`resample_stroke` spaces points evenly instead."""
    length = duration = 0.0
    for xy, t in zip(strokes_xy, times):
        if len(t) < 2:
            continue
        if not np.isfinite(t).all() or (np.diff(t) < 0).any() or len(np.unique(t)) < 0.5 * len(t):
            return None
        length += float(np.hypot(*np.diff(xy, axis=0).T).sum())
        duration += float(t[-1] - t[0])
    return duration * STEP / length if length > 0 and duration > 0 else None


def resample_in_time(xy, t, dt):
    """Points every ``dt`` of the stroke's time stamps ``t [n]`` (first and last kept), as a sensor with a
    fixed rate would have recorded them: the pen's speed profile survives (slow curves keep more points),
    as in the training lines. A stroke without duration (a dot) keeps its first point."""
    t = np.asarray(t, np.float64)
    if len(xy) < 2 or t[-1] <= t[0]:
        return np.asarray(xy, np.float64)[:1]
    last = np.concatenate([np.diff(t) > 0, [True]])          # of repeated stamps keep the last point
    t, xy = t[last], np.asarray(xy, np.float64)[last]
    ts = np.arange(t[0], t[-1], dt)
    ts = np.append(ts, t[-1]) if t[-1] - ts[-1] > 1e-9 * dt else ts
    return np.stack([np.interp(ts, t, xy[:, 0]), np.interp(ts, t, xy[:, 1])], -1)


def normalise(ink: Ink, text=None, *, scale=IAM_SCALE, settings=None, flip_y=False) -> np.ndarray:
    """``ink`` -> stroke-3 ``[T, 3]`` float32 in the network's units (see the module docstring).

    ``scale``: the data scale of the checkpoint (``hand.meta["scale"]``); ``settings``: the cache's
    preprocessing (default :data:`jaxseq.data.iam.DEFAULTS`); ``text``: the transcript, which sets the size
    of ink in unknown units (without it the ink height is matched to the training lines' median instead);
    ``flip_y``: for ink whose y axis points up.
    """
    st = {**iam.DEFAULTS, **(settings or {})}
    strokes = [s[:, :2] * ([1.0, -1.0] if flip_y else [1.0, 1.0]) for s in ink.strokes]
    if ink.units == "iam":       # the training pipeline itself (integer sensor units)
        d, eos, _ = iam.strokes_to_offsets([np.rint(s).astype(np.int64) for s in strokes], stride=st["stride"],
                                           rdp_eps=st["rdp_eps"], clip=st["clip"], clip_up=st["clip_up"])
        return np.concatenate([d / scale, eos[:, None]], 1).astype(np.float32)
    allp = np.concatenate(strokes)
    width = float(np.ptp(allp[:, 0]))
    height = float(np.percentile(allp[:, 1], 95) - np.percentile(allp[:, 1], 5))
    if text and width > 0:
        k = WIDTH_PER_CHAR * len(text) / width
    elif height > 0:
        k = HEIGHT / height
    else:
        k = 1.0                   # a single point or a dot: nothing to measure
    scaled = [(s - allp[0]) * k for s in strokes]
    dt = _time_step(scaled, [s[:, 2] for s in ink.strokes])
    kept = [resample_stroke(xy, STEP) if dt is None else resample_in_time(xy, s[:, 2], dt)
            for xy, s in zip(scaled, ink.strokes)]
    pts = np.concatenate(kept)
    eos = np.zeros(len(pts))
    eos[np.cumsum([len(p) for p in kept]) - 1] = 1.0
    s3 = to_offsets(pts, eos, start=pts[0])
    up = np.concatenate([[False], eos[:-1] > 0])
    for lim, rows in ((st["clip"], ~up), (st["clip_up"], up)):
        if lim:
            s3[rows, :2] = np.clip(s3[rows, :2], -lim / scale, lim / scale)
    return s3.astype(np.float32)


def ink_statistics(lines, idx=None) -> dict:
    """The medians :func:`normalise` matches, measured on IAM lines (:class:`jaxseq.data.iam.IamLines`,
    ``idx`` default the training lines): ``width_per_char``, ``step``, ``height``, ``points_per_char``."""
    idx = lines.train_idx if idx is None else idx
    w, step, h, ppc = [], [], [], []
    for i in idx:
        s, t = lines.strokes[i], lines.texts[i]
        p = to_absolute(s)
        up = np.concatenate([[True], s[:-1, 2] > 0.5])
        w.append(np.ptp(p[:, 0]) / max(len(t), 1))
        step.append(np.hypot(s[~up, 0], s[~up, 1]).mean() if (~up).any() else np.nan)
        h.append(np.percentile(p[:, 1], 95) - np.percentile(p[:, 1], 5))
        ppc.append(len(s) / max(len(t), 1))
    return {k: float(np.nanmedian(v)) for k, v in
            (("width_per_char", w), ("step", step), ("height", h), ("points_per_char", ppc))}
