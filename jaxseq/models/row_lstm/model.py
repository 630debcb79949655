"""The row-LSTM image classifier (the "predicting hand-written numbers" RNN example): a 28x28 image is
read as 28 time steps of 28 pixels (one row per step) by an LSTM, and the last step's hidden state goes
through one dense layer to the class logits.

Shapes: ``images: [B, 28, 28]`` float32 in [0, 1]; ``labels: [B]`` int32. Losses are mean cross-entropy
in nats.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxseq.nn import layers
from jaxseq.nn import scan as rnn
from jaxseq.nn.cells import LSTM


@dataclasses.dataclass(frozen=True)
class RowConfig:
    rows: int = 28        # time steps (image rows)
    cols: int = 28        # inputs per step (pixels per row)
    hidden: int = 128     # LSTM size
    classes: int = 10


def init(key, cfg: RowConfig):
    kl, ko = jax.random.split(key)
    return {"lstm": LSTM.init(kl, cfg.cols, cfg.hidden), "out": layers.dense_init(ko, cfg.hidden, cfg.classes)}


def logits(params, images, unroll=1):
    """images [B, rows, cols] -> logits [B, classes] from the LSTM's last step."""
    _, (h, _) = rnn.run(LSTM, params["lstm"], images.astype(jnp.float32), unroll=unroll)
    return layers.dense(params["out"], h)


def loss_fn(params, batch, key=None, step=0, unroll=1):
    """Cross-entropy of ``batch = {"x": [B, rows, cols], "y": [B]}``; metrics: accuracy."""
    z = logits(params, batch["x"], unroll)
    nll = -jnp.take_along_axis(jax.nn.log_softmax(z), batch["y"][:, None], -1)[:, 0]
    return nll.mean(), {"accuracy": (jnp.argmax(z, -1) == batch["y"]).mean()}


predict_logits = jax.jit(logits, static_argnames=("unroll",))
