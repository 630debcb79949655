"""The handwriting facade: a trained network with its charset, data scale and priming lines.

    hand = load()                                   # ckpt/handwriting_synthesis, from any folder
    lines = hand.write(["hello world"] * 64, bias=1.0, style=3, seed=0)
    hand.save_svg(lines, "hello.svg")
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.charset import Charset
from jaxseq.errors import DataError
from jaxseq.models.handwriting import model as hw
from jaxseq.models.handwriting import sample, training
from jaxseq.training import checkpoint

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED = {"synthesis": Path("ckpt/handwriting_synthesis"), "prediction": Path("ckpt/handwriting_prediction")}


def resolve_checkpoint(path=None, task="synthesis") -> Path:
    """A checkpoint directory: ``path``, or the shipped one of ``task``. A relative ``ckpt/...`` path not
    found here is looked up in the source checkout too, so it works from any folder."""
    if task not in SHIPPED:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(SHIPPED)}")
    p = Path(path).expanduser() if path else SHIPPED[task]
    if p.is_dir():
        return p
    if not p.is_absolute() and (REPO_ROOT / p).is_dir():
        return REPO_ROOT / p
    raise DataError(f"checkpoint directory {p} does not exist: train one first or give an existing one")


@dataclasses.dataclass
class Hand:
    """Params (float32), config, charset (None for prediction) and checkpoint meta."""
    params: dict
    config: hw.HWConfig
    charset: Optional[Charset]
    meta: dict

    @property
    def primes(self) -> list:
        """The real lines shipped for style priming (``{"text", "writer", "strokes"}`` each)."""
        return self.meta.get("primes") or []

    def prime(self, style):
        """``(strokes [P, 3], text)`` of priming line ``style`` (an index into :attr:`primes`)."""
        if not self.config.synthesis:
            raise ValueError("style priming needs a synthesis checkpoint")
        if not 0 <= style < len(self.primes):
            raise ValueError(f"style {style}: the checkpoint holds {len(self.primes)} priming lines "
                             f"(0..{len(self.primes) - 1})")
        p = self.primes[style]
        return np.asarray(p["strokes"], np.float32), p["text"]

    def write(self, texts, *, bias=sample.BIAS, temperature=sample.TEMPERATURE, style=None, seed=0,
              max_steps=None, stop_tail=None, return_phi=False):
        """Lines of handwriting for ``texts`` (a string or a list; prediction nets ignore the text) in
        one jitted call: a list of stroke-3 arrays ``[L_i, 3]`` in normalised units. ``style``: prime
        every line with priming line ``style`` (Graves §5.3). ``max_steps`` / ``stop_tail``: see
        :func:`jaxseq.models.handwriting.sample.generate` (defaults from the text and kappa scale).
        Characters outside the charset are written as the unknown symbol, with a warning.
        ``return_phi``: also return the window weights per line ``[L_i, U_i + 1]``."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return ([], []) if return_phi else []
        primes = None
        if style is not None:
            primes = [self.prime(style)] * len(texts)
            log.info("style %d: writer %s, primed with %r", style, self.primes[style]["writer"],
                     primes[0][1])
        lines, phis = sample.generate(self.params, self.config, self.charset, texts, seed=seed, bias=bias,
                                      temperature=temperature, max_steps=max_steps, primes=primes,
                                      stop_tail=stop_tail)
        return (lines, phis) if return_phi else lines

    def evaluate(self, lines, *, batch_size=64, max_len=0):
        """Validation NLL on ``lines`` (:class:`jaxseq.data.iam.IamLines`): ``(metrics, n_lines, max_len)``."""
        return training.evaluate(self.params, self.config, self.charset, self.meta, lines,
                                 batch_size=batch_size, max_len=max_len)

    @staticmethod
    def save_svg(lines, path, titles=None):
        """One SVG with the lines stacked (``titles`` under each)."""
        from jaxseq.viz.strokes import save_svg
        return save_svg(path, lines, titles=titles)

    @staticmethod
    def save_png(lines, path, titles=None):
        """A PNG with one line per row."""
        from jaxseq.viz.strokes import plot_grid
        return plot_grid(path, lines, titles, ncols=1, cell=(8.0, 1.6))

    def save(self, lines, path, titles=None):
        """:meth:`save_svg` for ``.svg``, else :meth:`save_png`."""
        save = self.save_svg if Path(path).suffix.lower() == ".svg" else self.save_png
        return save(lines, path, titles)


def load(path=None, *, task="synthesis", step=None, bf16=False) -> Hand:
    """A trained network: ``path`` (an export or a training run; ``step`` default best, else latest) or
    the shipped checkpoint of ``task`` (``"synthesis"`` or ``"prediction"``). ``bf16``: bf16 matmuls
    while sampling (state and mixture stay float32)."""
    directory = resolve_checkpoint(path, task)
    params, meta = checkpoint.load_for_sampling(directory, step)
    if "config" not in meta:
        raise DataError(f"{directory} is not a handwriting checkpoint (its meta has no config)")
    cfg, charset = training.read_meta(meta)
    if bf16:
        cfg = dataclasses.replace(cfg, bf16=True)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)
    return Hand(params, cfg, charset, meta)


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
