"""A writer's style for the synthesis network: one line of their strokes with its transcript (Graves §5.3).

    from jaxseq import handwriting
    from jaxseq.models.handwriting.style import Style
    hand = handwriting.load()
    me = Style.from_file("my_line.json", "the quick brown", scale=hand.meta["scale"])   # or .inkml, IAM .xml
    lines = hand.write(["hello world"], style=me)
    me.save("me.json"); me = Style.load("me.json")            # reuse it later

``Style(strokes, text)`` holds normalised stroke-3 (the network's units, as :meth:`Hand.prime` returns
for the shipped priming lines); :meth:`Style.from_file` / :meth:`Style.from_points` read and normalise a
person's pen strokes (:mod:`jaxseq.data.ink`). :meth:`Style.check` refuses what would make a poor prime
with a message saying what to do: too few points, an empty transcript, characters the network does not
know, a line far too long or too short for its transcript.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from jaxseq.data import ink
from jaxseq.data.files import write_atomic
from jaxseq.errors import DataError

MIN_POINTS = 10          # as iam.DEFAULTS["min_points"]: shorter lines were dropped from training
MAX_POINTS = 1000        # the network was trained on lines of at most 500 points; twice that at most
MIN_POINTS_PER_CHAR = 3.0    # training lines: 8.8 to 14.9 points per character (10th-90th percentile)
MAX_POINTS_PER_CHAR = 40.0
FORMAT = "jaxseq-style/1"


@dataclasses.dataclass(frozen=True)
class Style:
    """``strokes``: stroke-3 ``[P, 3]`` in the network's units; ``text``: what they say; ``source``: a
    note of where they came from (a file name, ``"demo pad"``)."""
    strokes: np.ndarray
    text: str
    source: str = ""

    def __post_init__(self):
        s = np.asarray(self.strokes, np.float32)
        if s.ndim != 2 or s.shape[1] != 3:
            raise ValueError(f"style strokes have shape {list(s.shape)}; expected stroke-3 [P, 3] "
                             f"(use Style.from_points / Style.from_file for raw pen points)")
        if not np.isfinite(s).all():
            raise ValueError("style strokes hold non-finite values (NaN/inf)")
        object.__setattr__(self, "strokes", s)
        object.__setattr__(self, "text", str(self.text))

    # ------------------------------------------------------------------------------------ building
    @classmethod
    def from_ink(cls, k: ink.Ink, text=None, *, scale=ink.IAM_SCALE, flip_y=False) -> "Style":
        """Normalise pen strokes read by :mod:`jaxseq.data.ink` (``text`` overrides the file's own
        transcript; one of them is required)."""
        text = k.text if text is None else text
        if text is None or not str(text).strip():
            raise ValueError(f"{k.source}: the style needs the transcript of the strokes (what they say); "
                             f"none given")
        text = " ".join(str(text).split())
        return cls(ink.normalise(k, text, scale=scale, flip_y=flip_y), text, k.source)

    @classmethod
    def from_points(cls, strokes, text, *, scale=ink.IAM_SCALE, source="<points>") -> "Style":
        """From a list of strokes of ``[x, y]`` / ``[x, y, t]`` points (screen units, y down)."""
        return cls.from_ink(ink.from_points(strokes, source=source), text, scale=scale)

    @classmethod
    def from_file(cls, path, text=None, *, scale=ink.IAM_SCALE, flip_y=False) -> "Style":
        """From an InkML, IAM-OnDB XML or JSON stroke file, or a style saved by :meth:`save`."""
        p = Path(path)
        if p.is_file() and p.read_bytes()[:200].lstrip().startswith(b"{") and \
                FORMAT.encode() in p.read_bytes()[:200]:
            s = cls.load(p)
            return s if text is None else cls(s.strokes, text, s.source)
        return cls.from_ink(ink.read(p), text, scale=scale, flip_y=flip_y)

    # ---------------------------------------------------------------------------------- checking
    def check(self, charset=None, max_chars=None) -> "Style":
        """Raise ValueError saying what to do when this style would make a poor prime."""
        n, t = len(self.strokes), self.text
        where = f"style from {self.source}" if self.source else "style"
        if not t.strip():
            raise ValueError(f"{where}: the transcript is empty; type what the strokes say")
        if n < MIN_POINTS:
            raise ValueError(f"{where}: {n} points after normalising; write at least a word "
                             f"({MIN_POINTS} points or more)")
        if n > MAX_POINTS:
            raise ValueError(f"{where}: {n} points after normalising, more than the {MAX_POINTS} the network "
                             f"can read as a prime; write one shorter line (a few words)")
        if max_chars is not None and len(t) > max_chars:
            raise ValueError(f"{where}: the transcript has {len(t)} characters; one line holds at most "
                             f"{max_chars}")
        ppc = n / len(t)
        if not MIN_POINTS_PER_CHAR <= ppc <= MAX_POINTS_PER_CHAR:
            raise ValueError(f"{where}: {ppc:.1f} points per character of {t!r} (handwriting has about 11); "
                             f"does the transcript say what was written?")
        if charset is not None:
            missing = sorted({c for c in t if c not in charset.index})
            if missing:
                raise ValueError(f"{where}: the transcript has characters the network does not know "
                                 f"{missing}; it knows {''.join(charset.chars[1:])!r}")
        return self

    # ----------------------------------------------------------------------------------- storing
    def to_json(self) -> dict:
        return {"format": FORMAT, "text": self.text, "source": self.source,
                "strokes": np.round(self.strokes.astype(np.float64), 4).tolist()}

    def save(self, path) -> Path:
        """Write the style as JSON (normalised stroke-3 and transcript); :meth:`load` reads it back."""
        data = json.dumps(self.to_json(), separators=(",", ":")).encode()
        return write_atomic(path, lambda f: f.write(data))

    @classmethod
    def load(cls, path) -> "Style":
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"style file {p} does not exist")
        try:
            d = json.loads(p.read_text())
            if d.get("format") != FORMAT:
                raise KeyError("format")
            return cls(np.asarray(d["strokes"], np.float32), d["text"], d.get("source", str(p)))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise DataError(f"{p}: not a saved style ({type(e).__name__}: {e}); save one with --save-style "
                            f"or Style.save") from None
