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
import jax.numpy as jnp
import numpy as np

from jaxseq.data import sketches as sd
from jaxseq.errors import DataError
from jaxseq.models.sketch_rnn import model as sr
from jaxseq.models.sketch_rnn import sample as ss
from jaxseq.models.sketch_rnn.sample import N_SAMPLES, SEED, TEMPERATURE
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
    p = Path(name).expanduser()
    if os.sep not in name and "/" not in name and (SHIPPED_ROOT / name).is_dir():
        return SHIPPED_ROOT / name
    if p.is_dir():
        return p
    if not p.is_absolute() and p.parts[:1] == ("ckpt",) and (REPO_ROOT / p).is_dir():
        return REPO_ROOT / p
    raise DataError(f"no Sketch-RNN checkpoint {name!r}: not a directory and not a shipped name "
                    f"(shipped: {shipped() or 'none'} in {SHIPPED_ROOT}); train one or give its path")


def _as_list(drawings):
    if isinstance(drawings, np.ndarray) and drawings.ndim == 2:
        return [drawings]
    return [np.asarray(d, np.float32) for d in drawings]


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

    def sample(self, n=N_SAMPLES, *, temperature=TEMPERATURE, seed=SEED, z=None) -> list:
        """``n`` drawings decoded from z ~ N(0, I) (or from the codes ``z [B, Nz]``)."""
        if z is not None:
            self._need_encoder("sampling from given codes")
        s5 = ss.sample(self.params, self.config, jax.random.PRNGKey(seed), n=None if z is not None else n,
                       z=None if z is None else jnp.asarray(z, jnp.float32), temperature=temperature)
        return ss.to_stroke3_list(s5, self.scale)

    def encode(self, drawings, *, seed=None) -> np.ndarray:
        """Latent codes ``[B, Nz]``: the posterior means, or draws from the posterior with ``seed``."""
        self._need_encoder("encoding")
        key = None if seed is None else jax.random.PRNGKey(seed)
        return np.asarray(ss.encode_sketches(self.params, self.config, _as_list(drawings), self.scale, key))

    def reconstruct(self, drawings, *, temperature=TEMPERATURE, seed=SEED) -> list:
        """Each drawing decoded from its code (the posterior mean)."""
        self._need_encoder("reconstruction")
        return ss.reconstruct(self.params, self.config, _as_list(drawings), self.scale,
                              jax.random.PRNGKey(seed), temperature=temperature)

    def interpolate(self, a, b, steps=N_SAMPLES, *, temperature=TEMPERATURE, seed=SEED,
                    method="slerp") -> list:
        """``steps`` drawings decoded along the path from the code of ``a`` to that of ``b`` (``slerp``
        or ``lerp``), with the same sampling noise at every step."""
        self._need_encoder("interpolation")
        if method not in ("slerp", "lerp"):
            raise ValueError(f"interpolation method {method!r}: use 'slerp' or 'lerp'")
        return ss.interpolate(self.params, self.config, np.asarray(a, np.float32), np.asarray(b, np.float32),
                              self.scale, jax.random.PRNGKey(seed), steps=steps, temperature=temperature,
                              method=method)

    def evaluate(self, drawings, *, batch_size=100, seed=SEED) -> dict:
        """Per-point ``lr`` (= ``l_s`` + ``l_p``), ``kl`` and ``loss`` over drawings of at most
        ``config.max_len`` points, z drawn from the posterior (as the paper reports them)."""
        seqs = _as_list(drawings)
        if not seqs:
            raise ValueError("no drawings to evaluate")
        batches = sd.eval_batches(seqs, self.scale, self.config.max_len, batch_size)
        return sr.evaluate(self.params, self.config, batches, jax.random.PRNGKey(seed))

    @staticmethod
    def save(drawings, path, titles=None) -> Path:
        """``.svg``: one SVG with the drawings stacked; else (``.png``) a grid image."""
        return ss.save_grid(path, _as_list(drawings), titles)


def load(name_or_path=DEFAULT_CHECKPOINT, *, step=None) -> SketchRNN:
    """A trained model from a shipped name (``"sheep"``), an exported checkpoint or a training run
    (``step``: default the best validated step, else the latest)."""
    path = resolve_checkpoint(name_or_path)
    params, meta = checkpoint.load_for_sampling(path, step)
    if meta.get("model") != "sketch_rnn":
        raise DataError(f"{path} is not a Sketch-RNN checkpoint (its meta says model="
                        f"{meta.get('model')!r})")
    return SketchRNN(jax.device_put(params), sr.SketchConfig.from_dict(meta["config"]),
                     float(meta["scale"]), meta, meta.get("step"), path)
