"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation with two generators, two PatchGAN
discriminators, least-squares adversarial, cycle-consistency and identity losses and a history pool;
``experiments/cyclegan.py`` trains one on Fashion-MNIST sneakers <-> ankle boots (horse2zebra is not
available here; its loader is :mod:`jaxseq.data.horse2zebra`).

    from jaxseq import cyclegan
    m = cyclegan.load()                              # the shipped sneaker <-> ankle boot generators
    boots = m.translate(sneakers, direction="a2b")   # [N, 28, 28] floats in [0, 1] (uint8 accepted)
    fake, back = m.cycle(sneakers, "a2b")            # G(x) and F(G(x))
"""
from __future__ import annotations

from jaxseq.models.cyclegan.api import CycleGAN, export_generators, load, resolve_checkpoint, shipped
from jaxseq.models.cyclegan.model import (CycleGANConfig, discriminator, discriminator_losses, generator,
                                          generator_losses, init, instance_norm, lsgan_d_loss, lsgan_g_loss,
                                          pool_init, pool_query)
from jaxseq.models.cyclegan.training import (CycleGANTrainConfig, class_domains, load_domains,
                                             make_train_step, model_config, train)

__all__ = ["CycleGAN", "load", "export_generators", "resolve_checkpoint", "shipped", "CycleGANConfig",
           "CycleGANTrainConfig", "init", "generator", "discriminator", "generator_losses",
           "discriminator_losses", "lsgan_d_loss", "lsgan_g_loss", "instance_norm", "pool_init",
           "pool_query", "class_domains", "load_domains", "make_train_step", "model_config", "train"]
