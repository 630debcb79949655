"""Transfer learning (the PyTorch transfer-learning tutorial's three ways) with the tutorial CNN:
pretrained on Fashion-MNIST, then trained on a new task

- ``frozen``: the pretrained feature extractor is frozen, a new head is trained
  (``optax.multi_transform`` sends the body's gradients to ``optax.set_to_zero``);
- ``frozen_conv`` (an extra): only the convolutional layers are kept and frozen; all three fc layers
  are re-initialised and trained (the fc layers of so small a network are task-specific);
- ``finetune``: pretrained body and a new head, all of it trained;
- ``scratch``: the same network from a fresh initialisation.

The learning rate decays like PyTorch's ``StepLR`` (times ``gamma`` every ``step_size`` epochs): an optax
staircase exponential decay. Each way runs a fixed number of epochs and is scored once at the end.
"""
from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxseq.data import images
from jaxseq.data.batching import batch_indices
from jaxseq.models.cnn import model as cnn
from jaxseq.models.cnn.training import accuracy
from jaxseq.training.loop import make_train_step

MODES = ("frozen", "finetune", "scratch", "frozen_conv")
DEFAULT_MODES = MODES[:3]   # the three ways of the tutorial


@dataclasses.dataclass
class TransferConfig:
    data: str = "mnist"            # the new task's IDX data set
    t10k_split: float = 0.8        # train on 8,000 of the 10k test images, score the other 2,000
    epochs: float = 10.0           # per way
    batch_size: int = 64
    lr: float = 1e-3               # Adam
    step_size: float = 4.0         # StepLR: epochs between decays
    gamma: float = 0.1             # StepLR: decay factor
    dropout: float = cnn.DROPOUT
    seed: int = 0

    def __post_init__(self):
        if self.epochs <= 0 or self.batch_size < 1 or not self.lr > 0 or self.step_size <= 0:
            raise ValueError(f"epochs {self.epochs}, batch_size {self.batch_size}, lr {self.lr} and "
                             f"step_size {self.step_size} must be positive")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma = {self.gamma}: a decay factor in (0, 1]")
        if not 0 < self.t10k_split < 1:
            raise ValueError(f"t10k_split = {self.t10k_split}: a fraction in (0, 1)")


def step_lr(lr, step_size, gamma):
    """PyTorch ``StepLR``: ``lr * gamma ** (step // step_size)`` (``step_size`` in optimizer steps)."""
    return optax.exponential_decay(lr, max(int(step_size), 1), gamma, staircase=True)


def trainable_labels(params, mode):
    """``"head"`` (trained) / ``"body"`` (frozen) per leaf: ``frozen`` freezes all but the last fc layer,
    ``frozen_conv`` the convolutions only."""
    if mode == "frozen":
        return cnn.head_labels(params)
    if mode == "frozen_conv":
        return {"conv": jax.tree_util.tree_map(lambda _: "body", params["conv"]),
                "fc": jax.tree_util.tree_map(lambda _: "head", params["fc"])}
    raise ValueError(f"mode {mode!r} freezes nothing")


def make_optimizer(params, mode, schedule):
    """Adam over everything, or (``frozen``, ``frozen_conv``) Adam on the trained part and zero updates
    for the frozen body."""
    if mode in ("frozen", "frozen_conv"):
        return optax.multi_transform({"head": optax.adam(schedule), "body": optax.set_to_zero()},
                                     trainable_labels(params, mode))
    if mode in ("finetune", "scratch"):
        return optax.adam(schedule)
    raise ValueError(f"unknown transfer mode {mode!r}; choose one of {MODES}")


def start_params(mode, pretrained, mcfg: cnn.CNNConfig, key):
    """``scratch``: a fresh network; ``frozen_conv``: pretrained convolutions, fresh fc layers; otherwise
    the pretrained network with a freshly initialised head."""
    fresh = cnn.init(key, mcfg)
    if mode == "scratch":
        return fresh
    body = jax.tree_util.tree_map(jnp.asarray, pretrained)
    if mode == "frozen_conv":
        return {"conv": body["conv"], "fc": fresh["fc"]}
    return {"conv": body["conv"], "fc": list(body["fc"][:-1]) + [fresh["fc"][-1]]}


def run_mode(mode, pretrained, mcfg, cfg: TransferConfig, train, test, *, time_budget_s=None):
    """Train one way on ``train = (x uint8 [N, H, W, C], y)`` and score ``test``. Returns
    ``(params, result)``; ``result["complete"]`` is False when the time budget cut it short."""
    xtr, ytr = train
    steps_per_epoch = len(xtr) // cfg.batch_size
    steps = max(1, int(cfg.epochs * steps_per_epoch))
    key = jax.random.PRNGKey(cfg.seed)
    params = start_params(mode, pretrained, mcfg, jax.random.fold_in(key, 1))
    opt = make_optimizer(params, mode, step_lr(cfg.lr, cfg.step_size * steps_per_epoch, cfg.gamma))
    loss = _loss(cfg.dropout)
    train_step = make_train_step(loss, opt)
    params = jax.tree_util.tree_map(jnp.array, params)   # own copies: the step donates its inputs
    state = opt.init(params)
    t0, done, acc_loss = time.time(), 0, 0.0
    curve = {"epoch": [], "train_loss": [], "test_acc": []}   # for the figure; the result is the last epoch
    for step in range(steps):
        i = batch_indices(step, len(xtr), cfg.batch_size, cfg.seed)
        batch = {"x": images.to_unit(xtr[i]), "y": ytr[i]}
        params, state, m = train_step(params, state, batch, jax.random.fold_in(key, step),
                                      jnp.asarray(step, jnp.int32))
        acc_loss = acc_loss + m["loss"]
        done = step + 1
        if done % steps_per_epoch == 0 or done == steps:
            n = done - (curve["epoch"][-1] * steps_per_epoch if curve["epoch"] else 0)
            curve["epoch"].append(done / steps_per_epoch)
            curve["train_loss"].append(float(acc_loss) / max(n, 1))
            curve["test_acc"].append(accuracy(jax.device_get(params), *test))
            acc_loss = 0.0
        if time_budget_s is not None and time.time() - t0 > time_budget_s:
            break
    params = jax.device_get(params)
    res = {"mode": mode, "test_acc": accuracy(params, *test), "train_acc": accuracy(params, *train),
           "steps": steps, "steps_done": done, "complete": done == steps, "epochs": cfg.epochs,
           "train_s": round(time.time() - t0, 1), "curve": curve,
           "n_train": int(len(xtr)), "n_test": int(len(test[1]))}
    return params, res


_LOSSES = {}


def _loss(rate):
    """One loss function object per dropout rate, so repeated runs reuse the jitted step."""
    if rate not in _LOSSES:
        _LOSSES[rate] = lambda p, b, k, s: cnn.loss_fn(p, b, k, s, rate=rate)
    return _LOSSES[rate]


def body_unchanged(before, after, mode="frozen") -> bool:
    """Whether every frozen parameter of ``mode`` is bit-identical (the freezing guarantee)."""
    labels = trainable_labels(after, mode)
    frozen = [(x, y) for x, y, lab in zip(jax.tree_util.tree_leaves(before), jax.tree_util.tree_leaves(after),
                                          jax.tree_util.tree_leaves(labels)) if lab == "body"]
    return bool(frozen) and all(np.array_equal(np.asarray(x, np.float32), np.asarray(y, np.float32))
                                for x, y in frozen)
