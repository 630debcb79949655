"""What the demo's buttons do, as plain functions of JSON-like requests (no HTTP here, so they are tested
directly): each takes a dict and returns a dict for the page, or raises :class:`UserError` with a message
the page shows as it is. The models are the shipped checkpoints, loaded once on first use.

Size limits protect the server (and say so): :data:`MAX_TEXT` characters of text to write,
:data:`MAX_PAD_POINTS` pen points from the pad, :data:`MAX_SKETCH_POINTS` points of a started sketch.
"""
from __future__ import annotations

import logging
import threading
import warnings

import numpy as np

from jaxseq.data import iam
from jaxseq.data.strokes import split_strokes
from jaxseq.errors import DataError

log = logging.getLogger(__name__)
MAX_TEXT = 400             # characters the Handwriting tab writes in one request (a few lines)
MAX_PAD_POINTS = 20_000    # raw pointer events in one handwritten line from the pad
MAX_SKETCH_POINTS = 2_000  # raw pointer events in a started sketch (the model reads 250 after simplifying)
SKETCH_RDP = 2.0           # Ramer-Douglas-Peucker tolerance in data units (the sketch-rnn data sets' 2.0)
SKETCH_MODELS = ("sheep", "kanji")
MAX_SEED = 2 ** 31 - 1
SVG_PX = 7.0               # pixels per handwriting unit on the page (a line is about 40 px tall)


class UserError(ValueError):
    """A request the page should answer with this message (HTTP 400)."""


def _number(req, name, default, low, high, cast=float):
    v = req.get(name, default)
    try:
        v = cast(v)
    except (TypeError, ValueError):
        raise UserError(f"{name} {v!r}: give a number between {low} and {high}") from None
    if not (low <= v <= high) or (cast is float and not np.isfinite(v)):
        raise UserError(f"{name} {v}: give a number between {low} and {high}")
    return v


def _seed(req):
    return _number(req, "seed", 0, 0, MAX_SEED, int)


class Models:
    """The shipped checkpoints, each loaded on first use; one lock serialises model calls (a CPU
    serves one request at a time best)."""

    def __init__(self):
        self.lock = threading.RLock()
        self._cache = {}

    def get(self, name):
        with self.lock:
            if name not in self._cache:
                if name == "hand":
                    from jaxseq import handwriting
                    self._cache[name] = handwriting.load()
                elif name in SKETCH_MODELS:
                    from jaxseq import sketch_rnn
                    self._cache[name] = sketch_rnn.load(name)
                elif name == "nmt":
                    from jaxseq import nmt
                    self._cache[name] = nmt.load("eng-fra")
                else:
                    raise KeyError(name)
            return self._cache[name]


# ------------------------------------------------------------------------------------ handwriting
def _style(req, hand):
    """The request's style: None, a shipped line index, or the pad's saved style ``{"strokes", "text"}``."""
    from jaxseq.models.handwriting.style import Style
    s = req.get("style")
    if s is None or s == "" or s == "none":
        return None
    if isinstance(s, dict):
        try:
            style = Style(np.asarray(s.get("strokes"), np.float32), str(s.get("text", "")), "your pad")
        except (TypeError, ValueError) as e:
            raise UserError(f"your style is unusable ({e}); draw a line on the pad again") from None
        style.check(hand.charset, hand.max_chars)
        return style
    n = _number({"style": s}, "style", 0, 0, len(hand.primes) - 1, int)
    return n


def handwriting(models: Models, req) -> dict:
    """``{text, bias, style, seed}`` -> ``{svg, lines, seconds, warnings}``: the text written as a page
    (word-wrapped at ``width`` characters)."""
    import time
    from jaxseq.models.handwriting import page
    text = str(req.get("text", ""))
    if not text.strip():
        raise UserError("Type some text to write.")
    if len(text) > MAX_TEXT:
        raise UserError(f"The text has {len(text)} characters; the demo writes at most {MAX_TEXT} at a time "
                        f"(use hand.write_page from Python for longer pages).")
    bias = _number(req, "bias", 1.0, 0.0, 10.0)
    width = _number(req, "width", 50, 10, 80, int)
    hand = models.get("hand")
    with models.lock, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        style = _style(req, hand)
        t0 = time.perf_counter()        # the sampler buckets its shapes: most requests reuse a compiled one
        pg = page.write_page(hand, text, width, style=style, bias=bias, seed=_seed(req))
        dt = time.perf_counter() - t0
    # e.g. "Characters not in the model's charset, written as their nearest: 'ë' -> 'e'"
    notes = [("Characters " if str(w.message).startswith("not in") else "") + str(w.message) for w in caught]
    return {"svg": pg.svg(px=SVG_PX), "svg_animated": pg.svg(animate=True, px=SVG_PX), "lines": pg.texts,
            "seconds": round(dt, 2), "warnings": notes}


def pad_style(models: Models, req) -> dict:
    """``{strokes: [[[x, y, t], ...], ...], text}`` from the pad -> ``{style, svg}``: the normalised
    style (sent back with later requests, or saved for ``--prime-strokes``) and how the network sees it."""
    from jaxseq.models.handwriting import page
    from jaxseq.models.handwriting.style import Style
    strokes, text = req.get("strokes") or [], str(req.get("text", ""))
    n = sum(len(s) for s in strokes if isinstance(s, list))
    if n == 0:
        raise UserError("The pad is empty: write a line on it first.")
    if n > MAX_PAD_POINTS:
        raise UserError(f"The pad holds {n} points; write one line (at most {MAX_PAD_POINTS} points).")
    if not text.strip():
        raise UserError("Type what you wrote on the pad (its transcript) in the box under it.")
    hand = models.get("hand")
    try:
        style = Style.from_points(strokes, text, scale=hand.meta["scale"], source="your pad")
    except (ValueError, DataError) as e:
        raise UserError(str(e)) from None
    style.check(hand.charset, hand.max_chars)
    return {"style": style.to_json(), "svg": page.Page([style.strokes], [style.text]).svg(px=SVG_PX),
            "points": len(style.strokes)}


# --------------------------------------------------------------------------------------- sketches
def _model(models, req):
    name = req.get("model", "sheep")
    if name not in SKETCH_MODELS:
        raise UserError(f"model {name!r}: choose one of {list(SKETCH_MODELS)}")
    return models.get(name)


def drawing_svg(s3, size=160, color="black", split=None) -> str:
    """One stroke-3 drawing fitted into a ``size`` x ``size`` SVG (strokes from index ``split`` on,
    i.e. the model's continuation, drawn in blue)."""
    polys = split_strokes(np.asarray(s3, np.float64)) if len(s3) else []
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
           f'viewBox="0 0 {size} {size}"><rect width="100%" height="100%" fill="white"/>']
    if polys:
        allp = np.concatenate(polys)
        lo, hi = allp.min(0), allp.max(0)
        k = (size - 12) / max(float((hi - lo).max()), 1e-6)
        off = (size - (hi - lo) * k) / 2
        idx = 0
        for p in polys:
            q = (p - lo) * k + off
            c = "#1f5fbf" if split is not None and idx >= split else color
            idx += len(p)
            d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in q) + (" l0.01,0" if len(q) == 1 else "")
            out.append(f'<path d="{d}" fill="none" stroke="{c}" stroke-width="1.6" stroke-linecap="round" '
                       f'stroke-linejoin="round"/>')
    out.append("</svg>")
    return "".join(out)


def sketch_sample(models: Models, req) -> dict:
    """``{model, temperature, n, seed}`` -> ``{svgs, drawings}`` from the prior."""
    m = _model(models, req)
    t = _number(req, "temperature", 0.4, 0.05, 1.5)
    n = _number(req, "n", 4, 1, 8, int)
    with models.lock:
        d = m.sample(n, temperature=t, seed=_seed(req))
    return {"svgs": [drawing_svg(x) for x in d], "drawings": [np.round(x, 3).tolist() for x in d]}


def pad_to_sketch(m, strokes, pad_size):
    """Pad strokes in CSS pixels (``pad_size`` square) -> stroke-3 in the model's data units: the pad
    spans the median extent of the model's example sketches, then RDP-simplified as the data sets are."""
    n = sum(len(s) for s in strokes if isinstance(s, list))
    if n == 0:
        raise UserError("The sketch pad is empty: start a drawing first.")
    if n > MAX_SKETCH_POINTS:
        raise UserError(f"The drawing has {n} points; the demo takes at most {MAX_SKETCH_POINTS} (the model "
                        f"reads {m.config.max_len - 1} after simplifying). Clear the pad and draw less.")
    from jaxseq.data import ink
    try:
        k = ink.from_points(strokes, source="the sketch pad")
    except ValueError as e:
        raise UserError(str(e)) from None
    ext = np.median([np.ptp(np.cumsum(e[:, :2], 0), 0).max() for e in m.examples]) if m.examples else 200.0
    f = float(ext) / float(pad_size)
    kept = [s[iam.rdp_mask(s[:, :2] * f, SKETCH_RDP), :2] * f for s in k.strokes]
    pts = np.concatenate(kept)
    eos = np.zeros(len(pts), np.float32)
    eos[np.cumsum([len(p) for p in kept]) - 1] = 1
    from jaxseq.data.strokes import to_offsets
    s3 = to_offsets(pts, eos, start=pts[0])
    if len(s3) < 2:
        raise UserError("The drawing is a single point; draw at least one line for the model to continue.")
    return s3


def sketch_complete(models: Models, req) -> dict:
    """``{model, strokes (pad pixels), pad_size, temperature, n, seed}`` -> ``{svgs}``: completions of
    the started sketch (the continuation in blue)."""
    m = _model(models, req)
    pad = _number(req, "pad_size", 300, 50, 4000)
    prefix = pad_to_sketch(m, req.get("strokes") or [], pad)
    if len(prefix) >= m.config.max_len:
        raise UserError(f"The drawing has {len(prefix)} points after simplifying; the model reads at most "
                        f"{m.config.max_len - 1}. Clear the pad and draw less.")
    t = _number(req, "temperature", 0.4, 0.05, 1.5)
    n = _number(req, "n", 4, 1, 8, int)
    with models.lock:
        d = m.complete(prefix, n, temperature=t, seed=_seed(req))
    return {"svgs": [drawing_svg(x, split=len(prefix)) for x in d], "prefix_points": len(prefix)}


def sketch_interpolate(models: Models, req) -> dict:
    """``{model, a, b (seeds of two prior samples), steps, temperature}`` -> ``{svgs}``: the two samples
    and the drawings decoded between their latent codes."""
    m = _model(models, req)
    t = _number(req, "temperature", 0.4, 0.05, 1.5)
    steps = _number(req, "steps", 6, 2, 10, int)
    a, b = _number(req, "a", 1, 0, MAX_SEED, int), _number(req, "b", 2, 0, MAX_SEED, int)
    with models.lock:
        ends = [m.sample(1, temperature=t, seed=s)[0] for s in (a, b)]
        d = m.interpolate(ends[0], ends[1], steps, temperature=t, seed=_seed(req))
    return {"svgs": [drawing_svg(x, 110) for x in d]}


# -------------------------------------------------------------------------------------- translate
def translate(models: Models, req) -> dict:
    """``{text, beam}`` -> ``{translation, source, target, attention}`` (attention [target + 1, source + 1])."""
    text = str(req.get("text", ""))
    if not text.strip():
        raise UserError("Type an English sentence to translate.")
    if len(text) > 300:
        raise UserError(f"The sentence has {len(text)} characters; translate one sentence (at most 300).")
    beam = _number(req, "beam", 5, 1, 10, int)
    tr = models.get("nmt")
    with models.lock, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = tr.translate([text], beam=beam, return_attention=True)[0]
    att = np.asarray(t.attention, np.float64)

    def labels(tokens, n):        # tokens then <eos>, one per attention row / column
        out = [str(x) for x in tokens][:n - 1] + ["<eos>"]
        return out + [""] * (n - len(out))
    return {"translation": t.text, "source": labels(t.source_tokens, att.shape[1]),
            "target": labels(t.target_tokens, att.shape[0]), "attention": np.round(att, 4).tolist(),
            "warnings": [str(w.message) for w in caught]}


def info(models: Models, req) -> dict:
    """The shipped priming lines' texts (the style menu) and the limits."""
    hand = models.get("hand")
    return {"styles": [p["text"] for p in hand.primes], "max_text": MAX_TEXT,
            "charset": "".join(hand.charset.chars[1:])}


ACTIONS = {"info": info, "handwriting": handwriting, "pad_style": pad_style, "sketch_sample": sketch_sample,
           "sketch_complete": sketch_complete, "sketch_interpolate": sketch_interpolate,
           "translate": translate}
