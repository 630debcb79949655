"""Training and testing the row-LSTM classifier on an IDX image set: Fashion-MNIST with its standard
60k/10k split, or MNIST, where only the 10k test set is available here, as a seeded, labelled 8k/2k split
of that test set (:func:`jaxseq.data.mnist.load_split`; not comparable with published MNIST numbers).
The test set is scored once, at the end, with the last step: nothing is selected on it.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import mnist
from jaxseq.data.batching import batch_indices
from jaxseq.data.files import checkpoint_kind
from jaxseq.errors import DataError
from jaxseq.models.row_lstm import model as rl
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.loop import TrainConfig, fit

T10K_SPLIT = {"fashion-mnist": 0.0, "mnist": 0.8}   # mnist: only t10k here -> 8k train / 2k test
CLASS_NAMES = {"fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                 "Sneaker", "Bag", "Ankle boot"],
               "mnist": [str(d) for d in range(10)]}


@dataclasses.dataclass
class RowTrainConfig:
    data: str = "fashion-mnist"   # fashion-mnist (standard 60k/10k) | mnist (seeded 8k/2k of t10k)
    split_seed: int = 0           # mnist: the seed of the 8k/2k split of the 10k test images
    hidden: int = 128             # LSTM size
    steps: int = 5000             # optimizer steps (fashion-mnist: 469 per epoch at batch 128)
    batch_size: int = 128
    lr: float = 2e-3              # Adam, cosine-decayed to a tenth
    clip_norm: float = 1.0        # global gradient-norm clip
    unroll: int = 1               # lax.scan unroll (speed only)
    seed: int = 0                 # init and batch order

    def __post_init__(self):
        if self.data not in T10K_SPLIT:
            raise ValueError(f"data = {self.data!r}: choose one of {sorted(T10K_SPLIT)}")
        for name in ("hidden", "steps", "batch_size", "unroll"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be at least 1")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")


def load_data(cfg: RowTrainConfig, data_dir=None):
    """``(train_x uint8 [N, 28, 28], train_y, test_x, test_y, description)`` of ``cfg.data``."""
    xtr, ytr, xte, yte, desc = mnist.load_split(cfg.data, data_dir, t10k_split=T10K_SPLIT[cfg.data],
                                                seed=cfg.split_seed)
    return xtr.reshape(-1, 28, 28), ytr, xte.reshape(-1, 28, 28), yte, desc


def as_float(images):
    """uint8 images (or floats in [0, 1]) [N, 28, 28] or [N, 784] -> float32 [N, 28, 28] in [0, 1]."""
    x = np.asarray(images)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x.reshape(len(x), 28, 28)


def require_row_lstm(directory, meta):
    """DataError naming ``directory`` and what it holds unless it is a row-LSTM checkpoint."""
    if not (isinstance(meta, dict) and isinstance(meta.get("row_lstm"), dict)):
        raise DataError(f"{directory} is not a row-LSTM checkpoint (it holds a {checkpoint_kind(meta)} "
                        f"one); give a run of experiments/row_lstm.py or ckpt/row_lstm/<data>")


def train(cfg: RowTrainConfig, train_x, train_y, ckpt_dir, *, meta=None, time_budget_s=None, log=None,
          progress=True):
    """Train into ``ckpt_dir`` (resuming there). Returns ``(params, history)`` as ``loop.fit``."""
    mcfg = rl.RowConfig(hidden=cfg.hidden)
    params = rl.init(jax.random.PRNGKey(cfg.seed), mcfg)
    x = as_float(train_x)

    def batch_fn(step):
        i = batch_indices(step, len(x), cfg.batch_size, cfg.seed)
        return {"x": x[i], "y": train_y[i]}

    tcfg = TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.1,
                       clip_norm=cfg.clip_norm, seed=cfg.seed, log_every=100, keep=1, progress=progress)
    ckpt = Checkpointer(as_path(ckpt_dir), keep=1)
    meta = {**(meta or {}), "config": dataclasses.asdict(cfg), "row_lstm": dataclasses.asdict(mcfg),
            "classes": CLASS_NAMES[cfg.data]}
    try:
        if ckpt.latest_step() is not None:
            require_row_lstm(ckpt_dir, ckpt.read_meta())
        params, hist = fit(functools.partial(rl.loss_fn, unroll=cfg.unroll), params, batch_fn, tcfg, ckpt=ckpt, meta=meta, log=log,
                           time_budget_s=time_budget_s)
    finally:
        ckpt.close()
    return params, hist


def predict(params, images, batch=1000):
    """Class logits ``[N, classes]`` of ``images``, in batches of ``batch`` (one compilation)."""
    x = as_float(images)
    out = []
    for s in range(0, len(x), batch):
        part = x[s:s + batch]
        pad = batch - len(part) if len(x) > batch else 0   # static shape: the last batch padded
        z = rl.predict_logits(params, jnp.asarray(np.pad(part, ((0, pad), (0, 0), (0, 0)))))
        out.append(np.asarray(z)[:len(part)])
    return np.concatenate(out) if out else np.zeros((0, 10), np.float32)


def evaluate(params, images, labels, n_classes=10):
    """``{"accuracy", "nll", "n", "confusion": [[...]]}`` of ``params`` on ``images`` / ``labels``."""
    z = predict(params, images)
    logp = z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) - z.max(-1, keepdims=True)
    pred = z.argmax(-1)
    conf = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(conf, (labels, pred), 1)
    return {"accuracy": float((pred == labels).mean()), "nll": float(-logp[np.arange(len(z)), labels].mean()),
            "n": int(len(labels)), "confusion": conf.tolist()}
