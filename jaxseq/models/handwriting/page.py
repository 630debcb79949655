"""Whole pages of handwriting: a paragraph word-wrapped into lines, every line primed with the same style.

    hand = handwriting.load()
    page = hand.write_page(paragraph, width=50, style=me)     # me: a Style, or a shipped line index
    page.save("page.svg"); page.save("page.png"); page.save("page_anim.svg", animate=True)

Unprimed lines each come out in a different hand (the network picks a writer per line), so a page keeps
one style by priming *every* line with it (Graves §5.3), rather than feeding one line's end state into the
next, which drifts. Lines share one scale and are laid out on a fixed line pitch, aligned on the median
height of their ink (about the middle of the lower-case letters). The animated SVG draws each stroke in
writing order at a constant pen speed (SVG ``<animate>`` of the stroke dash offset; any browser plays it).
"""
from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from jaxseq.data.files import write_atomic
from jaxseq.data.strokes import split_strokes

PX = 5.0                 # SVG pixels per normalised unit (training lines: ~6 units tall, ~3.1 per character)
PITCH = 12.0             # line pitch in normalised units (about two line heights)
WIDTH = 60               # characters per line by default
POINT_SECONDS = 0.012    # animation: time per point (pen-up moves included)
DEFAULT_STYLE = 0        # the shipped priming line used when no style is given


def wrap(paragraph, width):
    """Lines of at most ``width`` characters; a blank line in ``paragraph`` stays an empty line."""
    out = []
    for block in str(paragraph).split("\n"):
        out += textwrap.wrap(" ".join(block.split()), width, break_long_words=True) or [""]
    while out and not out[-1]:
        out.pop()
    while out and not out[0]:
        out.pop(0)
    return out


@dataclasses.dataclass
class Page:
    """``lines``: stroke-3 ``[L_i, 3]`` per text line (None for an empty line); ``texts``: the lines."""
    lines: list
    texts: list

    def layout(self):
        """``(polylines per line in page units, page width, page height)``; margin of one unit."""
        placed, width, y = [], 0.0, PITCH * 0.6
        for s in self.lines:
            if s is None or len(s) == 0:
                placed.append([])
                y += PITCH
                continue
            polys = split_strokes(s)
            allp = np.concatenate(polys)
            down = allp[np.isfinite(allp).all(1)]
            shift = np.array([2.0 - down[:, 0].min(), y - np.median(down[:, 1])])
            polys = [p + shift for p in polys]
            width = max(width, max(p[:, 0].max() for p in polys) + 2.0)
            placed.append(polys)
            y += PITCH
        return placed, max(width, 10.0), y - PITCH * 0.3

    def svg(self, *, animate=False, stroke_width=1.6, color="black", px=PX) -> str:
        """The page as an SVG document, ``px`` pixels per unit (``animate``: the pen writes it, stroke by
        stroke)."""
        placed, w, h = self.layout()
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * px:.0f}" height="{h * px:.0f}" '
               f'viewBox="0 0 {w * px:.1f} {h * px:.1f}">',
               '<rect width="100%" height="100%" fill="white"/>']
        t = 0.0
        for i, (polys, text) in enumerate(zip(placed, self.texts)):
            out.append(f'<g class="line" id="line{i}"><title>{escape(text)}</title>')
            for p in polys:
                q = p * px
                d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in q) + (" l0.01,0" if len(q) == 1 else "")
                attrs = (f'd="{d}" fill="none" stroke="{color}" stroke-width="{stroke_width}" '
                         f'stroke-linecap="round" stroke-linejoin="round"')
                if not animate:
                    out.append(f"<path {attrs}/>")
                    continue
                length = float(np.hypot(*np.diff(q, axis=0).T).sum()) + 0.02
                dur = max(len(q), 1) * POINT_SECONDS
                out.append(f'<path {attrs} stroke-dasharray="{length:.1f}" stroke-dashoffset="{length:.1f}">'
                           f'<animate attributeName="stroke-dashoffset" from="{length:.1f}" to="0" '
                           f'begin="{t:.2f}s" dur="{dur:.2f}s" fill="freeze"/></path>')
                t += dur + POINT_SECONDS
            out.append("</g>")
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def save(self, path, *, animate=False, dpi=100) -> Path:
        """``.svg`` (``animate`` for the pen-writing version) or ``.png`` (matplotlib)."""
        if Path(path).suffix.lower() == ".svg":
            data = self.svg(animate=animate).encode("utf-8")
            return write_atomic(path, lambda f: f.write(data))
        return write_atomic(path, lambda f: f.write(self.png(dpi=dpi)))

    def png(self, dpi=100) -> bytes:
        """The page as PNG bytes."""
        import io
        from matplotlib.figure import Figure
        placed, w, h = self.layout()
        fig = Figure(figsize=(w * PX / dpi, h * PX / dpi), dpi=dpi)
        ax = fig.add_axes((0, 0, 1, 1))
        for polys in placed:
            for p in polys:
                ax.plot(p[:, 0], p[:, 1], "-" if len(p) > 1 else ".", color="black", linewidth=1.2,
                        markersize=2, solid_capstyle="round")
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.set_axis_off()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
        return buf.getvalue()


def write_page(hand, paragraph, width=WIDTH, *, style=DEFAULT_STYLE, seed=0, **write_kw) -> Page:
    """``paragraph`` word-wrapped at ``width`` characters (at most ``hand.max_chars``) and written with
    every line primed with ``style`` (a :class:`~jaxseq.models.handwriting.style.Style` or a shipped line
    index; None leaves each line to its own random writer). ``write_kw``: :meth:`Hand.write`'s (bias, ...)."""
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width {width}: give the characters per line, a whole number >= 1")
    texts = wrap(paragraph, min(int(width), hand.max_chars))
    if not any(t.strip() for t in texts):
        raise ValueError("the paragraph is empty: give some text to write")
    todo = [t for t in texts if t.strip()]
    lines = iter(hand.write(todo, style=style, seed=seed, **write_kw))
    return Page([next(lines) if t.strip() else None for t in texts], texts)
