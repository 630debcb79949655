"""The CycleGAN facade: a loaded pair of generators that translates images between the two domains and
runs them round the cycle. Images in and out are floats in [0, 1] (uint8 is accepted), of shape
``[N, H, W]`` (one channel), ``[N, H, W, C]`` or flat ``[N, H*W*C]``; the output has the input's layout.
"""
from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import images as imx
from jaxseq.errors import DataError
from jaxseq.models.cyclegan import model as cg
from jaxseq.models.cyclegan.training import FAMILY
from jaxseq.paths import as_path, find_shipped, shipped_names
from jaxseq.training import checkpoint

REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED_ROOT = REPO_ROOT / "ckpt" / "cyclegan"        # shipped checkpoints, one folder per name
DEFAULT_CHECKPOINT = "sneaker_boot"
DIRECTIONS = {"a2b": "g_ab", "b2a": "g_ba"}


def shipped() -> list:
    """Names of the shipped checkpoints (``ckpt/cyclegan/<name>`` of a source checkout)."""
    return shipped_names(SHIPPED_ROOT)


def resolve_checkpoint(name_or_path=DEFAULT_CHECKPOINT) -> Path:
    """A checkpoint directory from a shipped name or a path (a relative ``ckpt/...`` path is also looked
    up in the source checkout, so it works from any folder)."""
    return find_shipped(name_or_path, SHIPPED_ROOT, "CycleGAN")


@functools.lru_cache(maxsize=4)
def _jit_generator():
    return jax.jit(cg.generator)


class CycleGAN:
    """Two trained generators: ``translate(images, "a2b" | "b2a")`` and ``cycle(images, direction)``."""

    def __init__(self, params, config: cg.CycleGANConfig, meta=None):
        self.params = {k: jax.tree_util.tree_map(jnp.asarray, params[k]) for k in DIRECTIONS.values()}
        self.config, self.meta = config, meta or {}

    @property
    def domains(self):
        """``{"data", "a", "b"}`` as the run recorded them (e.g. fashion-mnist, 7, 9)."""
        return self.meta.get("domains", {})

    def _prepare(self, images):
        x = np.asarray(images)
        if x.dtype != np.uint8 and x.size and (not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1):
            raise ValueError("images must be uint8 or floats in [0, 1] (got values outside [0, 1])")
        layout = x.ndim
        try:
            x = imx.to_nhwc(x, channels=self.config.channels)
        except ValueError as e:
            raise ValueError(f"images of shape {x.shape}: {e}") from None
        want = (self.config.image_size, self.config.image_size, self.config.channels)
        if x.shape[1:] != want:
            raise ValueError(f"images of shape {tuple(x.shape[1:])}: this model takes {want}")
        return imx.to_signed(x), layout

    @staticmethod
    def _restore(y, layout):
        y = np.asarray(imx.from_signed(np.asarray(y)))
        if layout == 3:
            return y[..., 0] if y.shape[-1] == 1 else y
        if layout == 2:
            return y.reshape(len(y), -1)
        return y

    def _run(self, x, direction, batch):
        if direction not in DIRECTIONS:
            raise ValueError(f"direction {direction!r}: choose 'a2b' or 'b2a'")
        g, p = _jit_generator(), self.params[DIRECTIONS[direction]]
        out = [np.asarray(g(p, jnp.asarray(x[i:i + batch]))) for i in range(0, len(x), batch)]
        return np.concatenate(out) if out else x

    def translate(self, images, direction="a2b", batch=256):
        """G(images) for ``"a2b"`` (A -> B), F(images) for ``"b2a"``; floats in [0, 1]."""
        x, layout = self._prepare(images)
        return self._restore(self._run(x, direction, batch), layout)

    def cycle(self, images, direction="a2b", batch=256):
        """``(translated, reconstructed)``: G(x) and F(G(x)) for ``"a2b"``; F(x) and G(F(x)) for ``"b2a"``."""
        x, layout = self._prepare(images)
        y = self._run(x, direction, batch)
        back = "b2a" if direction == "a2b" else "a2b"
        return self._restore(y, layout), self._restore(self._run(y, back, batch), layout)


def load(name_or_path=DEFAULT_CHECKPOINT, *, step=None) -> CycleGAN:
    """The generators in a shipped checkpoint (default ``sneaker_boot``), a training run's ``ckpt`` folder
    or an export of :func:`export_generators`."""
    path = resolve_checkpoint(name_or_path)
    params, meta = checkpoint.load_for_sampling(path, step)
    if meta.get("family") != FAMILY:
        raise DataError(f"{path} is not a CycleGAN checkpoint (its metadata names no family 'cyclegan'); "
                        f"give a CycleGAN checkpoint directory")
    return CycleGAN(params, cg.CycleGANConfig(**meta["cyclegan"]), meta)


def export_generators(src, dst, *, step=None, dtype="float32"):
    """Copy the two generators (no discriminators, no optimizer state, no pools) of a training run's
    ``src`` checkpoint to ``dst``, stored as ``dtype``. Returns the step."""
    ck = checkpoint.Checkpointer(checkpoint._existing(src), create=False)
    try:
        step = ck.latest_step() if step is None else step
        if step is None:
            raise DataError(f"no checkpoint in {src}: train first")
        params, _, meta = ck.restore(step)
    finally:
        ck.close()
    if meta.get("family") != FAMILY:
        raise DataError(f"{src} is not a CycleGAN checkpoint; give a CycleGAN run's ckpt folder")
    if as_path(dst).is_dir() and any(as_path(dst).iterdir()):
        raise DataError(f"{dst} is not empty; export to a new directory")
    gen = checkpoint.cast_floats({k: params[k] for k in DIRECTIONS.values()}, dtype)
    out = checkpoint.Checkpointer(dst, keep=1)
    try:
        out.save(step, gen, None, meta={**meta, "param_dtype": dtype})
    finally:
        out.close()
    return int(step)
