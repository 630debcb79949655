"""Spatial transformer network (Jaderberg et al. 2015; PyTorch's STN tutorial) in front of the CNN
classifier, trained on digits under random affine distortions; ``experiments/stn.py`` trains and scores
it with and without the transformer.

    from jaxseq import stn
    m = stn.load()                       # the shipped MNIST model (ckpt/stn/mnist), or a run's ckpt folder
    labels = m.predict(x)                # x: [N, 28, 28] uint8 or floats in [0, 1]
    warped, theta = m.warp(x)            # what the CNN sees, and the affine maps [N, 2, 3]
"""
from jaxseq.models.stn.api import STN, load, resolve_checkpoint, shipped
from jaxseq.models.stn.model import STNConfig, apply, init, localise, transform
from jaxseq.models.stn.training import (STNTrainConfig, distorted_test_set, evaluate, loss_fn, model_config,
                                        model_from_meta, train)

__all__ = ["STN", "load", "resolve_checkpoint", "shipped", "STNConfig", "apply", "init", "localise",
           "transform", "STNTrainConfig", "distorted_test_set", "evaluate", "loss_fn", "model_config",
           "model_from_meta", "train"]
