"""Training and scoring the spatial transformer (or, with ``stn=False``, the same CNN alone) on digits
under random affine distortions.

Training images are distorted afresh at every step inside the jitted loss (a new rotation, zoom and shift
per image, drawn from the step's key, so a resumed run sees the same data); the test images are distorted
once with ``test_seed``, the same for every run, so runs with and without the transformer are scored on
identical images. The distortion is :func:`jaxseq.data.images.random_affine`.
"""
from __future__ import annotations

import dataclasses
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import images
from jaxseq.data.batching import batch_indices
from jaxseq.errors import DataError
from jaxseq.models.cnn import model as cnn
from jaxseq.models.stn import model as stn
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.loop import TrainConfig, fit

FAMILY = "stn"


@dataclasses.dataclass
class STNTrainConfig:
    data: str = "mnist"            # IDX data set (jaxseq.data.mnist.SETS)
    t10k_split: float = 0.8        # > 0: train on this fraction of the 10k test images, score the rest
    split_seed: int = 0            # seed of that split (the same for runs that are compared)
    stn: bool = True               # the localisation net and warp in front of the CNN (False: CNN alone)
    rotation: float = 45.0         # distortion: rotation U(-r, r) degrees
    scale_min: float = 0.7         # distortion: zoom U(scale_min, scale_max)
    scale_max: float = 1.2
    shift: float = 4.0             # distortion: shift U(-s, s) pixels on each axis
    test_seed: int = 1             # the one fixed distortion of the test images
    epochs: float = 30.0           # training epochs (may be fractional)
    batch_size: int = 64
    lr: float = 1e-3               # Adam, cosine-decayed to a tenth
    dropout: float = cnn.DROPOUT   # CNN dropout after each hidden fc layer
    seed: int = 0                  # init, batch order, training distortions, dropout
    eval_every: int = 0            # steps between test-set evaluations (curves only; 0: at the end)

    def __post_init__(self):
        if not 0.0 <= self.t10k_split < 1.0:
            raise ValueError(f"t10k_split = {self.t10k_split}: a fraction in [0, 1)")
        if not 0.0 < self.scale_min <= self.scale_max:
            raise ValueError(f"scale_min = {self.scale_min}: need 0 < scale_min <= scale_max "
                             f"({self.scale_max})")
        if self.rotation < 0 or self.shift < 0:
            raise ValueError(f"rotation = {self.rotation} / shift = {self.shift}: give values >= 0")
        if self.epochs <= 0 or self.batch_size < 1:
            raise ValueError(f"epochs = {self.epochs}: epochs and batch size ({self.batch_size}) must be "
                             f"positive")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout = {self.dropout}: a rate in [0, 1)")
        if self.eval_every < 0:
            raise ValueError(f"eval_every = {self.eval_every}: give 0 (at the end) or a step count")

    def distortion(self):
        """Keywords of :func:`jaxseq.data.images.random_affine`."""
        return {"rotation": self.rotation, "scale": (self.scale_min, self.scale_max), "shift": self.shift}


def model_config(cfg: STNTrainConfig, size=28, in_ch=1) -> stn.STNConfig:
    return stn.STNConfig(stn=cfg.stn, cnn=cnn.CNNConfig(in_ch=in_ch, size=size, dropout=cfg.dropout))


def model_from_meta(meta, where="") -> stn.STNConfig:
    """The model config stored by :func:`train`; a clear error for another family's checkpoint."""
    if not isinstance(meta, dict) or meta.get("family") != FAMILY:
        raise DataError(f"{where or 'the checkpoint'} is not a spatial-transformer checkpoint (family "
                        f"{meta.get('family') if isinstance(meta, dict) else None!r}); give a run of "
                        f"experiments/stn.py")
    return stn.STNConfig(**meta["model"])


def n_steps(cfg: STNTrainConfig, n_train):
    return max(1, int(cfg.epochs * n_train / cfg.batch_size))


def loss_fn(params, batch, key, step, *, rate, distortion):
    """Cross-entropy of freshly distorted images. batch: ``{"x": uint8 [B, H, W, C], "y": [B]}``."""
    del step
    kd, kr = jax.random.split(key)
    x = images.affine_distort(kd, images.to_unit(jnp.asarray(batch["x"])), **distortion)
    logits = stn.apply(params, x, train=True, key=kr, rate=rate)
    return cnn.cross_entropy(logits, batch["y"]), {"acc": (logits.argmax(-1) == batch["y"]).mean()}


def distorted_test_set(cfg: STNTrainConfig, x):
    """Images ``x`` (uint8, any layout of 28x28 digits) -> float32 ``[N, H, W, 1]`` in [0, 1] under one
    fixed distortion per image, drawn with ``cfg.test_seed`` (batched: bounded memory)."""
    x = images.to_unit(images.to_nhwc(np.asarray(x)))
    key = jax.random.PRNGKey(cfg.test_seed)
    return np.concatenate([images.affine_distort(jax.random.fold_in(key, i), x[i:i + 1000],
                                                 **cfg.distortion()) for i in range(0, len(x), 1000)])


@functools.lru_cache(maxsize=4)
def _scorer():
    @jax.jit
    def score(params, x, y):
        logits = stn.apply(params, x, train=False)
        return cnn.cross_entropy(logits, y) * len(y), (logits.argmax(-1) == y).sum()
    return score


def evaluate(params, x, y, batch=500):
    """``{"acc", "loss", "n"}`` of images ``x [N, H, W, C]`` in [0, 1] against labels ``y``, over every
    image (the last batch may be smaller)."""
    score, tot_l, tot_c = _scorer(), 0.0, 0
    for i in range(0, len(x), batch):
        loss, correct = score(params, jnp.asarray(x[i:i + batch]), jnp.asarray(y[i:i + batch]))
        tot_l, tot_c = tot_l + float(loss), tot_c + int(correct)
    return {"acc": tot_c / len(x), "loss": tot_l / len(x), "n": int(len(x))}


def train(cfg: STNTrainConfig, train_x, train_y, test_x, test_y, ckpt_dir, *, meta=None,
          time_budget_s=None, log=None):
    """Train on uint8 digits ``train_x`` (``[N, 784]`` or ``[N, 28, 28(, 1)]``) into ``ckpt_dir``, resuming
    there; the distorted test set (``test_x`` under ``cfg.test_seed``) is scored every ``eval_every``
    steps and at the end (reported only: no step is selected on it). Returns
    ``(params, history, steps_done, steps)``."""
    x = images.to_nhwc(np.asarray(train_x))
    scfg = model_config(cfg, x.shape[1], x.shape[3])
    params = stn.init(jax.random.PRNGKey(cfg.seed), scfg)
    steps = n_steps(cfg, len(x))
    tcfg = TrainConfig(steps=steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.1, seed=cfg.seed,
                       log_every=100, eval_every=cfg.eval_every, keep=1)
    y = np.asarray(train_y, np.int32)
    xt, yt = distorted_test_set(cfg, test_x), np.asarray(test_y, np.int32)

    def batch_fn(step):
        i = batch_indices(step, len(x), cfg.batch_size, cfg.seed)
        return {"x": x[i], "y": y[i]}

    def eval_fn(params, step):
        return evaluate(params, xt, yt)

    loss = functools.partial(loss_fn, rate=cfg.dropout, distortion=cfg.distortion())
    meta = {**(meta or {}), "family": FAMILY, "config": dataclasses.asdict(cfg),
            "model": json.loads(json.dumps(dataclasses.asdict(scfg)))}   # as stored: a resume compares equal
    ckpt = Checkpointer(as_path(ckpt_dir), keep=1)
    try:
        if ckpt.latest_step() is not None:   # resuming: only a spatial-transformer run
            model_from_meta(ckpt.read_meta(), ckpt_dir)
        params, hist = fit(loss, params, batch_fn, tcfg, eval_fn=eval_fn, ckpt=ckpt, meta=meta,
                           log=log, time_budget_s=time_budget_s)
        done = ckpt.latest_step() or 0
    finally:
        ckpt.close()
    return params, hist, done, steps
