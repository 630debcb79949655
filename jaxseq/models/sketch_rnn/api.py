"""The Sketch-RNN facade: a loaded checkpoint that samples, reconstructs, interpolates, evaluates and
saves drawings. Drawings are stroke-3 arrays ``[N, 3]`` (dx, dy, pen lifted) in data units; the scale
factor of the training set travels with the checkpoint. Defaults are the command line's.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Optional

import jax
import numpy as np

from jaxseq.data import sketches as sd
from jaxseq.data.files import require_kind
from jaxseq.data.strokes import require_finite
from jaxseq.errors import DataError
from jaxseq.models.sketch_rnn import model as sr
from jaxseq.models.sketch_rnn import sample as ss
from jaxseq.models.sketch_rnn.sample import N_SAMPLES, SEED, TEMPERATURE
from jaxseq.paths import as_path
from jaxseq.training import checkpoint

REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED_ROOT = REPO_ROOT / "ckpt" / "sketch_rnn"    # shipped checkpoints, one folder per name
DEFAULT_CHECKPOINT = "sheep"


def shipped() -> list:
    """Names of the shipped checkpoints (``ckpt/sketch_rnn/<name>`` of a source checkout)."""
    return sorted(p.name for p in SHIPPED_ROOT.iterdir() if p.is_dir()) if SHIPPED_ROOT.is_dir() else []


def resolve_checkpoint(name_or_path=DEFAULT_CHECKPOINT) -> Path:
    """A checkpoint directory from a shipped name (``"sheep"``) or a path. A relative ``ckpt/...`` path
    that is not found here is looked up in the source checkout too, so it works from any folder."""
    name = str(name_or_path)
    p = as_path(name)   # a gs:// URI stays one
    if os.sep not in name and "/" not in name and (SHIPPED_ROOT / name).is_dir():
        return SHIPPED_ROOT / name
    if p.is_dir():
        return p
    if not p.is_absolute() and p.parts[:1] == ("ckpt",) and (REPO_ROOT / p).is_dir():
        return REPO_ROOT / p
    raise DataError(f"no Sketch-RNN checkpoint {name!r}: not a directory and not a shipped name "
                    f"(shipped: {shipped() or 'none'} in {SHIPPED_ROOT}); train one or give its path")


def _as_list(drawings, what="drawings", check=True):
    """Stroke-3 drawings as a list of float32 ``[N, 3]`` arrays; with ``check``, ValueError for an empty
    list, an empty drawing, a wrong shape or non-finite values (inputs to the encoder)."""
    if isinstance(drawings, np.ndarray) and drawings.ndim == 2:
        drawings = [drawings]
    out = [np.asarray(d, np.float32) for d in drawings]
    if not check:
        return out
    if not out:
        raise ValueError(f"no {what} given (an empty list)")
    for i, d in enumerate(out):
        if d.ndim != 2 or d.shape[1] != 3:
            raise ValueError(f"{what}[{i}] has shape {d.shape}; a drawing is stroke-3 [N, 3]")
        if len(d) == 0:
            raise ValueError(f"{what}[{i}] is empty (no points)")
        if not np.isfinite(d).all():
            raise ValueError(f"{what}[{i}] holds non-finite values (NaN/inf)")
    return out


def _check_temperature(temperature):
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"temperature {temperature}: give a finite number > 0 (0 would divide the mixture "
                         f"logits by zero)")
    return t


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} {value}: give a whole number >= 1")
    return int(value)


@dataclasses.dataclass
class SketchRNN:
    """A trained model: ``params``, its :class:`SketchConfig`, the data ``scale`` and the checkpoint
    ``meta`` (``examples``: a few test sketches)."""
    params: Any
    config: sr.SketchConfig
    scale: float
    meta: dict
    step: Optional[int] = None
    path: Optional[Path] = None

    @property
    def examples(self) -> list:
        """The real test sketches stored with the checkpoint (stroke-3, data units)."""
        return [np.asarray(s, np.float32) for s in self.meta.get("examples", [])]

    def _need_encoder(self, what):
        if not self.config.conditional:
            raise ValueError(f"{what} needs a conditional (VAE) model; the checkpoint {self.path} is "
                             f"unconditional (decoder only) and can only sample")

    def sample(self, n=N_SAMPLES, *, temperature=TEMPERATURE, seed=SEED, z=None, batch_size=ss.BATCH_SIZE,
               progress=None) -> list:
        """``n`` drawings decoded from z ~ N(0, I) (or from the codes ``z [B, Nz]``), in jitted batches
        of ``batch_size`` (bounded memory; a progress bar when there are several, or as ``progress``
        says). Drawing ``i`` depends on ``seed`` and ``i`` only, not on the batch size."""
        temperature = _check_temperature(temperature)
        batch_size = _check_count("batch_size", batch_size)
        if z is not None:
            self._need_encoder("sampling from given codes")
            z = np.asarray(z, np.float32)
            n = len(z)
        n = _check_count("n", n)
        out = ss.sample_batched(self.params, self.config, jax.random.PRNGKey(seed), n, z=z,
                                temperature=temperature, batch_size=batch_size, scale=self.scale,
                                progress=progress, min_len=self.min_len)
        return self._finite(out)

    @property
    def min_len(self) -> int:
        """No drawing ends before this many points: the shortest training sketch (from the meta)."""
        return int((self.meta or {}).get("min_len", ss.MIN_LEN))

    def _finite(self, drawings):
        require_finite(drawings, f"sampling from {self.path or 'these params'}")
        return drawings

    def encode(self, drawings, *, seed=None) -> np.ndarray:
        """Latent codes ``[B, Nz]``: the posterior means, or draws from the posterior with ``seed``."""
        self._need_encoder("encoding")
        key = None if seed is None else jax.random.PRNGKey(seed)
        return np.asarray(ss.encode_sketches(self.params, self.config, self._fit(_as_list(drawings)),
                                             self.scale, key))

    def reconstruct(self, drawings, *, temperature=TEMPERATURE, seed=SEED) -> list:
        """Each drawing decoded from its code (the posterior mean)."""
        self._need_encoder("reconstruction")
        drawings = self._fit(_as_list(drawings))
        return self._finite(ss.reconstruct(self.params, self.config, drawings, self.scale,
                                           jax.random.PRNGKey(seed), temperature=_check_temperature(temperature),
                                           min_len=self.min_len))

    def _fit(self, drawings, what="drawings"):
        for i, d in enumerate(drawings):
            if len(d) > self.config.max_len:
                raise ValueError(f"{what}[{i}] has {len(d)} points; this model reads at most "
                                 f"{self.config.max_len}")
        return drawings

    def interpolate(self, a, b, steps=N_SAMPLES, *, temperature=TEMPERATURE, seed=SEED,
                    method="slerp") -> list:
        """``steps`` drawings decoded along the path from the code of ``a`` to that of ``b`` (``slerp``
        or ``lerp``), with the same sampling noise at every step."""
        self._need_encoder("interpolation")
        if method not in ("slerp", "lerp"):
            raise ValueError(f"interpolation method {method!r}: use 'slerp' or 'lerp'")
        a, b = self._fit(_as_list([a, b], "endpoints"), "endpoints")
        return self._finite(ss.interpolate(self.params, self.config, a, b, self.scale,
                                           jax.random.PRNGKey(seed), steps=_check_count("steps", steps),
                                           temperature=_check_temperature(temperature), method=method,
                                           min_len=self.min_len))

    def complete(self, prefix, n=4, *, temperature=TEMPERATURE, seed=SEED) -> list:
        """``n`` completions of a started drawing ``prefix`` (stroke-3, data units, fewer than
        ``config.max_len`` points): each is the prefix followed by the model's continuation."""
        (prefix,) = _as_list([prefix], "prefix")
        if len(prefix) >= self.config.max_len:
            raise ValueError(f"the started drawing has {len(prefix)} points; this model reads at most "
                             f"{self.config.max_len - 1} before continuing: draw less")
        return self._finite(ss.complete(self.params, self.config, prefix, self.scale, jax.random.PRNGKey(seed),
                                        _check_count("n", n), temperature=_check_temperature(temperature),
                                        min_len=self.min_len))

    def evaluate(self, drawings, *, batch_size=100, seed=SEED) -> dict:
        """Per-point ``lr`` (= ``l_s`` + ``l_p``), ``kl`` and ``loss`` over drawings of at most
        ``config.max_len`` points, z drawn from the posterior (as the paper reports them)."""
        seqs = self._fit(_as_list(drawings))
        batches = sd.eval_batches(seqs, self.scale, self.config.max_len, batch_size)
        return sr.evaluate(self.params, self.config, batches, jax.random.PRNGKey(seed))

    @staticmethod
    def save(drawings, path, titles=None) -> Path:
        """``.svg``: one SVG with the drawings stacked; else (``.png``) a grid image."""
        return ss.save_grid(path, _as_list(drawings, check=False), titles)


def load(name_or_path=DEFAULT_CHECKPOINT, *, step=None) -> SketchRNN:
    """A trained model from a shipped name (``"sheep"``), an exported checkpoint or a training run
    (``step``: default the best validated step, else the latest)."""
    path = resolve_checkpoint(name_or_path)
    params, meta = checkpoint.load_for_sampling(path, step)
    require_kind(path, meta, "Sketch-RNN")
    try:
        cfg, scale = sr.SketchConfig.from_dict(meta["config"]), float(meta["scale"])
    except (TypeError, ValueError, KeyError) as e:
        raise DataError(f"{path}: checkpoint metadata has an unusable config or scale ({e}); the "
                        f"checkpoint is corrupted or from another version") from None
    return SketchRNN(jax.device_put(params), cfg, scale, meta, meta.get("step"), path)
