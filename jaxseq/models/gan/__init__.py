"""MLP GAN, conditional GAN and InfoGAN on 28x28 images (issue 16); ``experiments/gan.py`` trains them on
Fashion-MNIST.

    from jaxseq.models import gan
    m = gan.load("runs/cgan/ckpt")                 # a run of experiments/gan.py (or an export)
    imgs = m.sample(16, key=0, labels=3)           # [16, 28, 28] in [0, 1]
"""
from __future__ import annotations

from jaxseq.models.gan.api import GAN, load
from jaxseq.models.gan.model import (GANConfig, d_loss, discriminate, g_loss, generate, init, mi_loss,
                                     mi_terms, sample_latent)
from jaxseq.models.gan.training import GANTrainConfig, export_generator, model_config, train, train_step

__all__ = ["GAN", "load", "GANConfig", "GANTrainConfig", "init", "generate", "discriminate",
           "sample_latent", "d_loss", "g_loss", "mi_terms", "mi_loss", "train", "train_step",
           "export_generator", "model_config"]
