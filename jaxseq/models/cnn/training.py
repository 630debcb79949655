"""Training and scoring the tutorial CNN on an image set: Fashion-MNIST, MNIST or CIFAR-10.

Every data set comes in as uint8 NHWC arrays (:func:`load_data`); after that one code path trains and
scores them all, so the CIFAR-10 loader feeds exactly what Fashion-MNIST runs here exercise. A seeded
tenth of the training images is held out for choosing the best step; the test set is scored once, at
the end, by the best step.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import images
from jaxseq.data.batching import batch_indices, split_indices
from jaxseq.data.files import require_kind
from jaxseq.models.cnn import model as cnn
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.loop import TrainConfig, fit

DATASETS = ("fashion-mnist", "mnist", "cifar10")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot")
FAMILY = "cnn"


@dataclasses.dataclass
class CNNTrainConfig:
    data: str = "fashion-mnist"    # fashion-mnist | mnist | cifar10
    t10k_split: float = 0.0        # > 0: train on this fraction of the 10k TEST images (MNIST here)
    size: int = 28                 # input size: 28 (IDX native) or 32 (IDX padded; CIFAR-10 is 32)
    channels: tuple = (6, 16)      # conv widths (the tutorial's)
    hidden: tuple = (120, 84)      # hidden fc widths (the tutorial's); the last is the feature size
    dropout: float = cnn.DROPOUT   # after each hidden fc layer
    epochs: float = 10.0
    batch_size: int = 64
    lr: float = 1e-3               # Adam, cosine-decayed to a tenth
    val_frac: float = 0.1          # seeded share of the training images held out to pick the best step
    eval_every: int = 1000         # steps between validation passes (and checkpoints)
    seed: int = 0

    def __post_init__(self):
        self.channels = tuple(int(c) for c in self.channels)
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.data not in DATASETS:
            raise ValueError(f"unknown data set {self.data!r}; choose one of {DATASETS}")
        if self.data == "cifar10" and self.size != 32:
            raise ValueError(f"CIFAR-10 images are 32x32; size {self.size} must be 32")
        if self.size not in (28, 32):
            raise ValueError(f"size {self.size}: 28 (native) or 32 (padded)")
        if self.epochs <= 0 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"epochs {self.epochs}, batch_size {self.batch_size} and lr {self.lr} must be "
                             f"positive")
        if not 0.0 < self.val_frac < 0.5 or not 0.0 <= self.t10k_split < 1.0:
            raise ValueError(f"val_frac {self.val_frac} must lie in (0, 0.5) and t10k_split "
                             f"{self.t10k_split} in [0, 1)")


def model_config(cfg: CNNTrainConfig, in_ch) -> cnn.CNNConfig:
    return cnn.CNNConfig(in_ch=in_ch, size=cfg.size, channels=cfg.channels, hidden=cfg.hidden,
                         dropout=cfg.dropout)


def load_data(cfg: CNNTrainConfig, data_dir=None, cifar_path=None):
    """``{"train": (x, y), "val": (x, y), "test": (x, y), "description": str, "classes": tuple}`` with
    uint8 NHWC images ``[N, size, size, C]`` and int32 labels; validation is a seeded ``val_frac`` of
    the training images."""
    if cfg.data == "cifar10":
        from jaxseq.data import cifar10
        xtr, ytr, xte, yte, desc = cifar10.load_split(cifar_path, data_dir)
        classes = cifar10.CLASSES
    else:
        from jaxseq.data import mnist
        xtr, ytr, xte, yte, desc = mnist.load_split(cfg.data, data_dir, t10k_split=cfg.t10k_split,
                                                    seed=cfg.seed)
        xtr, xte = images.to_nhwc(xtr), images.to_nhwc(xte)
        if cfg.size != 28:
            xtr, xte = images.pad_to(xtr, cfg.size), images.pad_to(xte, cfg.size)
        classes = FASHION_CLASSES if cfg.data == "fashion-mnist" else tuple(str(i) for i in range(10))
    tr, va = split_indices(len(xtr), [1 - cfg.val_frac, cfg.val_frac], seed=cfg.seed + 1)
    return {"train": (xtr[tr], ytr[tr]), "val": (xtr[va], ytr[va]), "test": (xte, yte),
            "description": f"{desc}; {len(va)} of the training images held out for validation",
            "classes": tuple(classes)}


@functools.lru_cache(maxsize=8)
def _logits_fn():
    return jax.jit(lambda p, x: cnn.apply(p, x, train=False))


def predict_logits(params, x, batch=1000):
    """Eval-mode logits ``[N, K]`` (numpy float32) of uint8 or [0, 1] float images ``[N, H, W, C]``,
    in fixed-size batches (the last one padded) so one compilation serves any N."""
    f = _logits_fn()
    out = []
    for i in range(0, len(x), batch):
        part = images.to_unit(np.asarray(x[i:i + batch]))
        n = len(part)
        if n < batch and len(x) > batch:
            part = np.concatenate([part, np.zeros((batch - n,) + part.shape[1:], part.dtype)])
        out.append(np.asarray(f(params, part))[:n])
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def accuracy(params, x, y, batch=1000):
    """Fraction of ``x`` classified as ``y`` (eval mode)."""
    return float((predict_logits(params, x, batch).argmax(-1) == np.asarray(y)).mean())


def confusion(y_true, y_pred, n_classes):
    """``[true, predicted]`` counts (int64)."""
    c = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(c, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return c


def n_steps(cfg: CNNTrainConfig, n_train):
    return max(1, int(cfg.epochs * n_train / cfg.batch_size))


def train(cfg: CNNTrainConfig, data, ckpt_dir, *, meta=None, time_budget_s=None, log=None, progress=True):
    """Train on ``data`` (from :func:`load_data`) into ``ckpt_dir``, resuming there. The best step by
    validation accuracy is kept. Returns ``(params_of_best_step, history, steps_done, steps)``."""
    xtr, ytr = data["train"]
    mcfg = model_config(cfg, xtr.shape[-1])
    params = cnn.init(jax.random.PRNGKey(cfg.seed), mcfg)
    steps = n_steps(cfg, len(xtr))
    tcfg = TrainConfig(steps=steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.1, clip_norm=0.0,
                       seed=cfg.seed, log_every=100, eval_every=cfg.eval_every, ckpt_every=cfg.eval_every,
                       keep=1, progress=progress)

    def batch_fn(step):
        i = batch_indices(step, len(xtr), cfg.batch_size, cfg.seed)
        return {"x": images.to_unit(xtr[i]), "y": ytr[i]}

    def eval_fn(p, step):
        return {"acc": accuracy(p, *data["val"])}

    ckpt = Checkpointer(as_path(ckpt_dir), keep=1, best_metric="val_acc", best_mode="max")
    meta = {**(meta or {}), "family": FAMILY, "config": dataclasses.asdict(cfg),
            "cnn": dataclasses.asdict(mcfg), "classes": list(data["classes"]),
            "data_description": data["description"]}
    try:
        if ckpt.latest_step() is not None:
            _check_kind(ckpt_dir, ckpt.read_meta())
        loss = functools.partial(cnn.loss_fn, rate=cfg.dropout)
        params, hist = fit(loss, params, batch_fn, tcfg, eval_fn=eval_fn, ckpt=ckpt, meta=meta, log=log,
                           time_budget_s=time_budget_s)
        done = ckpt.latest_step() or 0
        best = ckpt.best_step()
        if best is not None and best != done:
            params, _, _ = ckpt.restore(best)
    finally:
        ckpt.close()
    return params, hist, done, steps


def _check_kind(where, meta):
    if not isinstance(meta, dict) or meta.get("family") != FAMILY:
        require_kind(where, meta, "CNN classifier")   # names what the directory holds instead


def config_from_meta(meta) -> cnn.CNNConfig:
    c = dict(meta["cnn"])
    return cnn.CNNConfig(**{**c, "channels": tuple(c["channels"]), "hidden": tuple(c["hidden"])})


def export(run_dir, dst, *, data, dtype="bfloat16", frechet_reference=None, data_dir=None):
    """A params-only copy of the run's best step in ``dst``, stored as ``dtype``, whose meta also records
    the test accuracy of those stored weights (``test_acc``, on ``data["test"]``) and, for the Fashion-MNIST
    28x28 classifier, the Fréchet real-data reference (``frechet``, :func:`frechet.compute_reference`;
    ``frechet_reference=False`` skips it). Returns ``(step, meta)``."""
    from jaxseq.models.cnn import api, frechet
    from jaxseq.training import checkpoint
    step = checkpoint.export(run_dir, dst, pick="best", dtype=dtype)
    clf = api.load(dst)
    params, meta = checkpoint.load_for_sampling(dst, dtype=None)
    meta = dict(meta, test_acc=accuracy(clf.params, *data["test"]), export_dtype=dtype)
    cfg = clf.config
    if frechet_reference is None:
        frechet_reference = meta["config"]["data"] == "fashion-mnist" and cfg.size == 28 and cfg.in_ch == 1
    if frechet_reference:
        meta["frechet"] = frechet.compute_reference(data_dir, model=clf)
    ck = Checkpointer(as_path(dst), keep=1)
    try:
        ck.save(step, params, None, meta=meta, metrics=meta.get("metrics"))
    finally:
        ck.close()
    return step, meta
