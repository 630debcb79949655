"""Row-LSTM image classifier: a 28x28 image read as 28 steps of 28 pixels by an LSTM of 128 units, the
last step to 10 classes; ``experiments/row_lstm.py`` trains it on Fashion-MNIST or MNIST.

    from jaxseq import row_lstm
    clf = row_lstm.load()                       # the shipped ckpt/row_lstm/fashion-mnist (or a path)
    clf.predict(images)                         # uint8 [N, 28, 28] (or [N, 784], or floats in [0, 1]) -> [N]
    clf.predict_names(images[:3])               # ['Ankle boot', ...]
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jaxseq.models.row_lstm import model
from jaxseq.models.row_lstm.model import RowConfig, init, logits, loss_fn
from jaxseq.models.row_lstm.training import (CLASS_NAMES, RowTrainConfig, evaluate, load_data, predict,
                                             require_row_lstm, train)

SHIPPED_ROOT = Path(__file__).resolve().parents[3] / "ckpt" / "row_lstm"
DEFAULT_CHECKPOINT = "fashion-mnist"

__all__ = ["RowLSTM", "load", "RowConfig", "RowTrainConfig", "init", "logits", "loss_fn", "train",
           "evaluate", "load_data", "predict", "CLASS_NAMES", "model"]


class RowLSTM:
    """A trained row-LSTM with its class names."""

    def __init__(self, params, classes, meta=None):
        import jax
        import jax.numpy as jnp
        self.params = jax.tree_util.tree_map(jnp.asarray, params)
        self.classes, self.meta = list(classes), meta or {}

    def logits(self, images):
        """Class logits ``[N, 10]``; images uint8 ``[N, 28, 28]`` / ``[N, 784]`` or floats in [0, 1]."""
        x = np.asarray(images)
        if x.ndim not in (2, 3) or x[0].size != 784:
            raise ValueError(f"images of shape {x.shape}: give [N, 28, 28] or [N, 784]")
        return predict(self.params, x)

    def predict(self, images):
        """Predicted class ids ``[N]``."""
        return self.logits(images).argmax(-1)

    def predict_names(self, images):
        return [self.classes[i] for i in self.predict(images)]

    def evaluate(self, images, labels):
        return evaluate(self.params, images, np.asarray(labels), len(self.classes))


def load(name_or_path=DEFAULT_CHECKPOINT, step=None) -> RowLSTM:
    """A shipped name (``"fashion-mnist"``) or a checkpoint directory (a run or an export)."""
    from jaxseq.training.checkpoint import load_for_sampling
    name = str(name_or_path)
    path = SHIPPED_ROOT / name if "/" not in name and os.sep not in name and (SHIPPED_ROOT / name).is_dir() \
        else name_or_path
    params, meta = load_for_sampling(path, step)
    require_row_lstm(path, meta)
    return RowLSTM(params, meta["classes"], meta)
