"""BEGAN (Berthelot et al. 2017): an autoencoder discriminator, the k_t equilibrium control and the
M_global convergence measure; trained on 32x32 Fashion-MNIST by ``experiments/began.py``.

    from jaxseq import began
    gen = began.load("runs/began/fashion-mnist")     # a run or an exported generator
    images = gen.sample(64, seed=0)                  # [64, 32, 32, 1] in [0, 1]
"""
from __future__ import annotations

import numpy as np

from jaxseq.data import images as _im
from jaxseq.models.began import model
from jaxseq.models.began.model import (BEGANConfig, autoencode, d_init, decode, encode, g_init, k_update,
                                       m_global, recon_loss)
from jaxseq.models.began.training import (BEGANTrainConfig, fixed_noise, generate, init_state, make_step,
                                          plot_convergence, require_began, train, train_step)

__all__ = ["Generator", "load", "BEGANConfig", "BEGANTrainConfig", "autoencode", "encode", "decode",
           "d_init", "g_init", "recon_loss", "k_update", "m_global", "train", "train_step", "make_step",
           "init_state", "generate", "fixed_noise", "plot_convergence", "model"]


class Generator:
    """A trained BEGAN generator with its config."""

    def __init__(self, params, meta):
        import jax
        import jax.numpy as jnp
        self.params = {"g": jax.tree_util.tree_map(jnp.asarray, params["g"])}
        self.meta = meta
        self.config = BEGANConfig(**meta["began"])

    def sample(self, n=64, seed=0):
        """``n`` images ``[n, size, size, channels]``, float32 in [0, 1] (clipped)."""
        from jaxseq.models.began.training import sample
        return np.asarray(_im.from_signed(sample(self.params, n, seed)))


def load(path, step=None) -> Generator:
    """A training run or an exported generator directory of experiments/began.py."""
    from jaxseq.training.checkpoint import load_for_sampling
    params, meta = load_for_sampling(path, step)
    require_began(path, meta)
    return Generator(params, meta)
