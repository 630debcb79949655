"""MLP variational autoencoder (Kingma & Welling 2014) and its class-conditional form (Sohn et al. 2015);
``experiments/vae.py`` trains one on Fashion-MNIST / MNIST.

    from jaxseq import vae
    m = vae.load("runs/vae/ckpt")                  # a run of experiments/vae.py
    imgs = m.sample(16, seed=0)                    # [16, 784] Bernoulli means; a CVAE takes labels=
    rec = m.reconstruct(x)                         # x: [N, 784] in [0, 1]
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.files import require_kind
from jaxseq.models.vae import model
from jaxseq.models.vae.model import (VAEConfig, bernoulli_log_prob, decode, elbo, encode, init,
                                     iwae_bound, kl_standard_normal, loss_fn, normal_log_prob)
from jaxseq.models.vae.training import VAETrainConfig, evaluate, fixed_binarization, model_config, train

__all__ = ["VAE", "load", "VAEConfig", "VAETrainConfig", "init", "encode", "decode", "elbo", "iwae_bound",
           "loss_fn", "train", "evaluate", "fixed_binarization", "model_config", "bernoulli_log_prob",
           "normal_log_prob", "kl_standard_normal"]


class VAE:
    """A trained (C)VAE: ``sample``, ``reconstruct``, ``manifold`` and ``score``. Images are ``[N, D]``
    float arrays in [0, 1] (D = 784 for 28x28)."""

    def __init__(self, params, config: VAEConfig, meta=None):
        self.params = jax.tree_util.tree_map(jnp.asarray, params)
        self.config, self.meta = config, meta or {}

    @property
    def conditional(self):
        return self.config.n_classes > 0

    def _labels(self, labels, n):
        if not self.conditional:
            return None
        if labels is None:  # a CVAE without labels: the classes in turn
            return jnp.arange(n) % self.config.n_classes
        labels = jnp.broadcast_to(jnp.asarray(labels, jnp.int32), (n,))
        if int(labels.min()) < 0 or int(labels.max()) >= self.config.n_classes:
            raise ValueError(f"labels must lie in 0..{self.config.n_classes - 1}")
        return labels

    def sample(self, n, labels=None, seed=0, mean=True):
        """``[n, D]`` draws from p(x [| y]): Bernoulli means (``mean``) or binary images. A CVAE takes
        ``labels`` (an int or ``[n]``; None: classes 0, 1, ... in turn)."""
        kw = dict(z_dim=self.config.z_dim, n_classes=self.config.n_classes, mean=mean)
        return np.asarray(model.sample(self.params, jax.random.PRNGKey(seed), int(n),
                                       self._labels(labels, n), **kw))

    def reconstruct(self, x, labels=None):
        """Bernoulli means of p(x | z = mu(x)) for images ``x [N, D]`` in [0, 1]."""
        x = jnp.asarray(x, jnp.float32)
        y = self._labels(labels, len(x))
        mu, _ = encode(self.params, x, y, n_classes=self.config.n_classes)
        return np.asarray(jax.nn.sigmoid(decode(self.params, mu, y, n_classes=self.config.n_classes)))

    def manifold(self, n=15, label=0):
        """``[n * n, D]`` decoded means over an n x n grid of normal quantiles (a 2-D latent only)."""
        if self.config.z_dim != 2:
            raise ValueError(f"the latent manifold needs z_dim = 2; this model has {self.config.z_dim}")
        q = jax.scipy.special.ndtri(jnp.linspace(0.03, 0.97, n))
        z = jnp.stack(jnp.meshgrid(q, -q), -1).reshape(-1, 2)
        y = self._labels(label, n * n)
        return np.asarray(jax.nn.sigmoid(decode(self.params, z, y, n_classes=self.config.n_classes)))

    def score(self, x_bin, labels=None, iw_k=VAETrainConfig.iw_k, seed=0):
        """Mean ELBO and IW-NLL (nats) of binary images ``x_bin [N, D]`` (see :func:`evaluate`)."""
        y = self._labels(labels, len(x_bin))
        y = np.zeros(len(x_bin), np.int32) if y is None else np.asarray(y)
        return evaluate(self.params, np.asarray(x_bin, np.float32), y, jax.random.PRNGKey(seed),
                        n_classes=self.config.n_classes, iw_k=iw_k)


def load(path, step=None) -> VAE:
    """The model in checkpoint directory ``path`` (the ``ckpt`` folder of a run, or an export)."""
    from jaxseq.training.checkpoint import load_for_sampling
    params, meta = load_for_sampling(path, step)
    require_kind(path, meta, "VAE")
    cfg = dict(meta["vae"], hidden=tuple(meta["vae"]["hidden"]))
    return VAE(params, VAEConfig(**cfg), meta)
