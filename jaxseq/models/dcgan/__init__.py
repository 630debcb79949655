"""DCGAN (Radford et al. 2016, the PyTorch DCGAN tutorial) on 32x32 Fashion-MNIST; CelebA at 64x64 where
it is available (it is not here). ``experiments/dcgan.py`` trains it.

    from jaxseq import dcgan
    images = dcgan.sample(16, seed=0)           # [16, 32, 32, 1] in [0, 1] from ckpt/dcgan/fashion-mnist
    gen = dcgan.load()                          # the shipped generator (or a run / export directory)
    gen.save_grid(gen.sample(64, seed=1), "samples.png")

Sampling runs the generator in eval mode (batch norm with its running statistics), so an image depends
only on its own noise vector; ``train_mode=True`` normalises each batch of 500 with its own statistics
(what the training step does). docs/results_images.md compares the two.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jaxseq.data import images as _im
from jaxseq.models.dcgan import model
from jaxseq.models.dcgan.model import DCGANConfig, bce_with_logits, d_apply, d_init, d_loss, g_apply, g_init, g_loss
from jaxseq.models.dcgan.training import (DCGANTrainConfig, fixed_noise, generate, init_state, make_step,
                                          require_dcgan, train, train_step)

SHIPPED_ROOT = Path(__file__).resolve().parents[3] / "ckpt" / "dcgan"
DEFAULT_CHECKPOINT = "fashion-mnist"

__all__ = ["Generator", "load", "sample", "DCGANConfig", "DCGANTrainConfig", "g_init", "g_apply", "d_init",
           "d_apply", "d_loss", "g_loss", "bce_with_logits", "train", "train_step", "make_step",
           "init_state", "generate", "fixed_noise", "model"]


class Generator:
    """A trained DCGAN generator (params and batch-norm state) with its config."""

    def __init__(self, params, meta):
        import jax
        import jax.numpy as jnp
        self.params = jax.tree_util.tree_map(jnp.asarray, {"g": params["g"], "g_bn": params["g_bn"]})
        self.meta = meta
        self.config = DCGANConfig(**meta["dcgan"])

    def sample(self, n=64, seed=0, train_mode=False):
        """``n`` images ``[n, size, size, channels]``, float32 in [0, 1]; same seed, same images."""
        from jaxseq.models.dcgan.training import sample
        return np.asarray(_im.from_signed(sample(self.params, n, seed, train_mode)))

    def save_grid(self, images, path, ncols=8, scale=2):
        """A PNG grid of ``images`` (as :meth:`sample` returns them)."""
        from jaxseq.viz.images import save_grid
        return save_grid(path, images, ncols=ncols, scale=scale)


def _resolve(name_or_path):
    name = str(name_or_path)
    if "/" not in name and os.sep not in name and (SHIPPED_ROOT / name).is_dir():
        return SHIPPED_ROOT / name
    return name_or_path


def load(name_or_path=DEFAULT_CHECKPOINT, step=None) -> Generator:
    """A shipped name (``"fashion-mnist"``) or a checkpoint directory (a training run or an export)."""
    from jaxseq.training.checkpoint import load_for_sampling
    path = _resolve(name_or_path)
    params, meta = load_for_sampling(path, step)
    require_dcgan(path, meta)
    return Generator(params, meta)


def sample(n=64, seed=0, checkpoint=DEFAULT_CHECKPOINT, train_mode=False):
    """One call: ``n`` images ``[n, size, size, channels]`` in [0, 1] from ``checkpoint`` (default the
    shipped Fashion-MNIST generator)."""
    return load(checkpoint).sample(n, seed, train_mode)
