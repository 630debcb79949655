"""The handwriting facade: a trained network with its charset, data scale and priming lines.

    hand = load()                                   # ckpt/handwriting_synthesis, from any folder
    lines = hand.write(["hello world"] * 64, bias=1.0, style=3, seed=0)
    hand.save_svg(lines, "hello.svg")
"""
from __future__ import annotations

import dataclasses
import logging
import warnings
from pathlib import Path
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.charset import Charset
from jaxseq.data.files import checkpoint_kind, require_kind
from jaxseq.data.strokes import require_finite
from jaxseq.errors import DataError
from jaxseq.models.handwriting import model as hw
from jaxseq.models.handwriting import sample, training
from jaxseq.paths import as_path
from jaxseq.training import checkpoint

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED = {"synthesis": Path("ckpt/handwriting_synthesis"), "prediction": Path("ckpt/handwriting_prediction")}


def resolve_checkpoint(path=None, task="synthesis") -> Path:
    """A checkpoint directory: ``path``, or the shipped one of ``task``. A relative ``ckpt/...`` path not
    found here is looked up in the source checkout too, so it works from any folder."""
    if task not in SHIPPED:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(SHIPPED)}")
    p = as_path(path) if path else SHIPPED[task]   # a gs:// URI stays one
    if p.is_dir():
        return p
    if not p.is_absolute() and (REPO_ROOT / p).is_dir():
        return REPO_ROOT / p
    raise DataError(f"checkpoint directory {p} does not exist: train one first or give an existing one")


def _check_number(name, value, *, low, inclusive):
    """``value`` must be a finite number >= ``low`` (> ``low`` when not ``inclusive``)."""
    v = float(value)
    if not np.isfinite(v) or v < low or (v == low and not inclusive):
        raise ValueError(f"{name} {value}: give a finite number {'>=' if inclusive else '>'} {low}")
    return v


def _check_count(name, value, low=1, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} {value}: give a whole number >= {low}")
    return int(value)


@dataclasses.dataclass
class Hand:
    """Params (float32), config, charset (None for prediction), checkpoint meta and directory."""
    params: dict
    config: hw.HWConfig
    charset: Optional[Charset]
    meta: dict
    path: Optional[Path] = None

    @property
    def primes(self) -> list:
        """The real lines shipped for style priming (``{"text", "writer", "strokes"}`` each)."""
        return self.meta.get("primes") or []

    @property
    def max_chars(self) -> int:
        """The longest text one line can hold: :data:`sample.MAX_STEPS` points at two characters'
        worth per character (see :func:`sample.default_max_steps`). Longer texts: :meth:`wrap`."""
        return sample.max_line_chars(self.config)

    def wrap(self, text) -> list:
        """``text`` word-wrapped into lines of at most :attr:`max_chars` characters, in order (words
        longer than a line are broken); ``[text]`` when it fits one line."""
        import textwrap
        if len(str(text)) <= self.max_chars:
            return [str(text)]
        return textwrap.wrap(" ".join(str(text).split()), self.max_chars) or [str(text)]

    def prime(self, style):
        """``(strokes [P, 3], text)`` of priming line ``style``: an index into :attr:`primes`, or a
        :class:`jaxseq.models.handwriting.style.Style` (a person's own line, checked here)."""
        from jaxseq.models.handwriting.style import Style
        if isinstance(style, Style) and self.config.synthesis:
            style.check(self.charset, self.max_chars)
            return style.strokes, style.text
        if not self.config.synthesis:
            raise ValueError(f"style {style}: style priming needs a synthesis checkpoint; {self.path or 'this'} "
                             f"is a prediction one")
        if isinstance(style, bool) or not isinstance(style, (int, np.integer)) or \
                not 0 <= style < len(self.primes):
            raise ValueError(f"style {style}: the checkpoint holds {len(self.primes)} priming lines "
                             f"(0..{len(self.primes) - 1})")
        p = self.primes[style]
        return np.asarray(p["strokes"], np.float32), p["text"]

    def check_texts(self, texts=None, n=None) -> list:
        """The texts :meth:`write` will write (``texts`` cycled to ``n`` lines), after checking them:
        synthesis needs non-blank texts of at most :attr:`max_chars` characters; a prediction network
        writes without text, so it takes only empty texts (or ``texts=None`` with ``n``)."""
        n = _check_count("n", n)
        if texts is None:
            if self.config.synthesis:
                raise ValueError("a synthesis network needs texts to write")
            texts = [""]
        texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
        if not texts:
            raise ValueError("no texts to write (an empty list)")
        for t in texts:
            if not self.config.synthesis:
                if t:
                    raise ValueError(f"{self.path or 'this checkpoint'} is a prediction network: it writes "
                                     f"without text and cannot write {t!r}; use a synthesis checkpoint")
            elif not t.strip():
                raise ValueError(f"text {t!r} is empty: give some characters to write")
            elif len(t) > self.max_chars:
                raise ValueError(f"text of {len(t)} characters is longer than one line can hold "
                                 f"({self.max_chars} characters); split it into lines, e.g. with "
                                 f"Hand.wrap(text)")
        return [texts[i % len(texts)] for i in range(max(n or 0, len(texts)))]

    def write(self, texts=None, *, n=None, bias=sample.BIAS, temperature=sample.TEMPERATURE, style=None,
              seed=0, max_steps=None, stop_tail=None, return_phi=False, batch_size=sample.BATCH_SIZE,
              progress=None):
        """Lines of handwriting for ``texts`` (a string or a list, cycled to ``n`` lines when given;
        prediction nets take no text: ``texts=None, n=...``), in jitted batches of ``batch_size`` lines
        (a progress bar when there are several; ``progress`` forces it on or off): a list of stroke-3
        arrays ``[L_i, 3]`` in normalised units. ``style``: prime every line with priming line ``style``
        (Graves §5.3), or with a :class:`~jaxseq.models.handwriting.style.Style` of your own strokes.
        ``max_steps`` / ``stop_tail``: see :func:`jaxseq.models.handwriting.sample.generate` (defaults
        from the text and kappa scale). Characters outside the charset are written as their nearest known
        character (:meth:`Charset.nearest`: Q -> q, é -> e, else the unknown symbol), with one warning
        naming them all. ``return_phi``: also return the window weights per line
        ``[L_i, U_i + 1]``. Raises ValueError for a bad argument and DataError when the network produces
        non-finite points (a corrupted checkpoint)."""
        texts = self.check_texts(texts, n)
        if self.charset is not None:
            texts, subs = self.charset.substitute(texts)
            if subs:
                warnings.warn(f"not in the model's charset, written as their nearest: "
                              f"{Charset.describe(subs)}", stacklevel=2)
        bias = _check_number("bias", bias, low=0.0, inclusive=True)
        temperature = _check_number("temperature", temperature, low=0.0, inclusive=False)
        max_steps = _check_count("max_steps", max_steps)
        stop_tail = _check_count("stop_tail", stop_tail, low=0)
        batch_size = _check_count("batch_size", batch_size, allow_none=False)
        primes = None
        if style is not None:
            primes = [self.prime(style)] * len(texts)
            log.info("style %s: primed with %r", style if isinstance(style, int) else "(own strokes)",
                     primes[0][1])
        lines, phis = sample.generate(self.params, self.config, self.charset, texts, seed=seed, bias=bias,
                                      temperature=temperature, max_steps=max_steps, primes=primes,
                                      stop_tail=stop_tail, batch_size=batch_size, progress=progress)
        require_finite(lines, f"sampling from {self.path or 'these params'}")
        return (lines, phis) if return_phi else lines

    def write_page(self, paragraph, width=None, **kw):
        """A :class:`~jaxseq.models.handwriting.page.Page`: ``paragraph`` word-wrapped at ``width``
        characters, every line primed with one style (see :func:`jaxseq.models.handwriting.page.write_page`)."""
        from jaxseq.models.handwriting import page
        return page.write_page(self, paragraph, page.WIDTH if width is None else width, **kw)

    def evaluate(self, lines, *, batch_size=64, max_len=0):
        """Validation NLL on ``lines`` (:class:`jaxseq.data.iam.IamLines`): ``(metrics, n_lines, max_len)``."""
        return training.evaluate(self.params, self.config, self.charset, self.meta, lines,
                                 batch_size=batch_size, max_len=max_len)

    @staticmethod
    def save_svg(lines, path, titles=None, **layout):
        """One SVG with the lines stacked without overlap (``titles`` as their ``<title>``); ``layout``:
        ``x_height`` (px, default 40), ``stroke_width``, ``line_height``, ``width`` (see
        :func:`jaxseq.viz.strokes.handwriting_layout`)."""
        from jaxseq.viz.strokes import handwriting_layout, save_svg
        return save_svg(path, lines, titles=titles, **handwriting_layout(**layout))

    @staticmethod
    def save_png(lines, path, titles=None, **layout):
        """The PNG twin of :meth:`save_svg` (same layout, one unit per pixel; ``titles`` unused)."""
        from jaxseq.viz.strokes import handwriting_layout, save_lines_png
        return save_lines_png(path, lines, **handwriting_layout(**layout))

    def save(self, lines, path, titles=None, **layout):
        """:meth:`save_svg` for ``.svg``, else :meth:`save_png`."""
        save = self.save_svg if Path(path).suffix.lower() == ".svg" else self.save_png
        return save(lines, path, titles, **layout)


def load(path=None, *, task="synthesis", step=None, bf16=False) -> Hand:
    """A trained network: ``path`` (an export or a training run; ``step`` default best, else latest) or
    the shipped checkpoint of ``task`` (``"synthesis"`` or ``"prediction"``). ``bf16``: bf16 matmuls
    while sampling (state and mixture stay float32)."""
    directory = resolve_checkpoint(path, task)
    params, meta = checkpoint.load_for_sampling(directory, step)
    if not checkpoint_kind(meta).startswith("handwriting"):
        require_kind(directory, meta, f"handwriting {task}")
    try:
        cfg, charset = training.read_meta(meta)
    except (TypeError, ValueError, KeyError) as e:
        raise DataError(f"{directory}: checkpoint metadata has an unusable config ({e}); the checkpoint "
                        f"is corrupted or from another version") from None
    if bf16:
        cfg = dataclasses.replace(cfg, bf16=True)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)
    return Hand(params, cfg, charset, meta, directory)


def inspect_line(hand: Hand, lines, index=0, max_len=0):
    """What the network sees on validation line ``index`` of ``lines`` (teacher-forced): ``{"text",
    "strokes" [L, 3], "mixture" (per-point mixture params, numpy), "phi" [L, U], "window" [L, V]}``
    (phi and window for synthesis only)."""
    from jaxseq.nn import mixtures as mdn
    cfg = hand.config
    pool, max_len, text_len = training.validation_setup(cfg, hand.meta, lines, max_len)
    i = int(pool[index % len(pool)])
    b = training.make_batch(lines.strokes, lines.texts, [i], max_len, hand.charset, text_len)
    L = int(b["mask"].sum())
    _, (raw, aux) = hw.nll(hand.params, cfg, {k: jnp.asarray(v) for k, v in b.items()})
    out = {"text": lines.texts[i], "id": i, "strokes": np.asarray(b["strokes"][0, :L]),
           "mixture": {k: np.asarray(v[0, :L]) for k, v in mdn.split_bivariate(raw, cfg.n_mix).items()}}
    if cfg.synthesis:
        out["phi"] = np.asarray(aux["phi"][0, :L, :len(lines.texts[i])])
        out["window"] = np.asarray(aux["window"][0, :L])
    return out
