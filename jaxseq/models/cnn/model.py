"""The CIFAR-10 tutorial's convolutional classifier: conv-pool-conv-pool-fc-fc-fc, with dropout.

PyTorch tutorial ("Training a classifier"): conv 5x5 -> 6, max-pool 2, conv 5x5 -> 16, max-pool 2,
fc 120, fc 84, fc 10, ReLU between. Here the widths are a config, dropout sits after each hidden fc
layer (train mode only, explicit PRNG key), and the input may be 1-channel 28x28 / 32x32 (Fashion-MNIST,
MNIST) or 3-channel 32x32 (CIFAR-10). Images are NHWC floats in [0, 1]; ``apply`` centres them to
[-1, 1] itself (the tutorial's ``Normalize((0.5,), (0.5,))``).

Params: ``{"conv": [conv, conv], "fc": [dense, dense, dense]}``; the last ``fc`` entry is the head
(what transfer learning replaces), everything before it is the feature extractor.

    cfg = CNNConfig(in_ch=1, size=28)
    params = init(jax.random.PRNGKey(0), cfg)
    logits = apply(params, x, train=True, key=k, rate=cfg.dropout)   # x: [N, 28, 28, 1]
    feats = features(params, x)                                       # [N, 84], eval mode
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxseq.nn.layers import conv2d, conv_init, dense, dense_init, dropout, max_pool

DROPOUT = 0.25   # default dropout rate after each hidden fc layer


@dataclasses.dataclass
class CNNConfig:
    in_ch: int = 1                 # image channels: 1 (Fashion-MNIST, MNIST) or 3 (CIFAR-10)
    size: int = 28                 # input height = width
    channels: tuple = (6, 16)      # conv widths (the tutorial: 6, 16)
    kernel: int = 5                # conv kernel size, no padding ("valid"), each followed by max-pool 2
    hidden: tuple = (120, 84)      # hidden fc widths (the tutorial: 120, 84); the last is the feature size
    n_classes: int = 10
    dropout: float = DROPOUT       # after each hidden fc layer, train mode only

    def __post_init__(self):
        self.channels = tuple(int(c) for c in self.channels)
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.in_ch < 1 or self.n_classes < 2 or not self.channels or not self.hidden:
            raise ValueError(f"CNN config: in_ch {self.in_ch}, n_classes {self.n_classes}, channels "
                             f"{self.channels} and hidden {self.hidden} must be positive / non-empty")
        if min(self.channels + self.hidden) < 1 or self.kernel < 1:
            raise ValueError(f"CNN config: widths {self.channels}, {self.hidden} and kernel "
                             f"{self.kernel} must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"CNN config: dropout {self.dropout} must lie in [0, 1)")
        if self.spatial_out < 1:
            raise ValueError(f"CNN config: {self.size}x{self.size} input is too small for "
                             f"{len(self.channels)} conv {self.kernel}x{self.kernel} + pool stages")

    @property
    def spatial_out(self):
        """Height (= width) after the last conv + pool stage (28 -> 24 -> 12 -> 8 -> 4)."""
        s = self.size
        for _ in self.channels:
            s = (s - self.kernel + 1) // 2
        return s

    @property
    def flat_dim(self):
        return self.channels[-1] * self.spatial_out ** 2

    @property
    def feature_dim(self):
        return self.hidden[-1]


def init(key, cfg: CNNConfig):
    """Params with PyTorch's default ``Conv2d`` / ``Linear`` initialisation (uniform over fan-in)."""
    kc, kf = jax.random.split(key)
    ins = (cfg.in_ch,) + cfg.channels[:-1]
    conv = [conv_init(k, cfg.kernel, a, b) for k, a, b in
            zip(jax.random.split(kc, len(cfg.channels)), ins, cfg.channels)]
    sizes = (cfg.flat_dim,) + cfg.hidden + (cfg.n_classes,)
    fc = [dense_init(k, a, b) for k, a, b in zip(jax.random.split(kf, len(sizes) - 1), sizes[:-1], sizes[1:])]
    return {"conv": conv, "fc": fc}


def _as_nhwc(x):
    return x[..., None] if x.ndim == 3 else x


def _trunk(params, x, *, train, key, rate):
    """Everything but the head: x [N, H, W, C] in [0, 1] -> the last hidden fc activations [N, D]."""
    h = _as_nhwc(jnp.asarray(x))
    h = (h if jnp.issubdtype(h.dtype, jnp.floating) else h.astype(jnp.float32)) * 2.0 - 1.0
    for p in params["conv"]:
        h = max_pool(jax.nn.relu(conv2d(p, h)), 2)
    h = h.reshape(h.shape[0], -1)
    hidden = params["fc"][:-1]
    keys = jax.random.split(key, len(hidden)) if (train and key is not None) else [None] * len(hidden)
    for p, k in zip(hidden, keys):
        h = dropout(k, jax.nn.relu(dense(p, h)), rate if train else 0.0)
    return h


def apply(params, x, *, train, key=None, rate=DROPOUT):
    """Logits ``[N, n_classes]`` for images ``x [N, H, W, C]`` (or ``[N, H, W]``) in [0, 1].

    ``train=True`` applies dropout of ``rate`` with ``key`` (required then, unless ``rate`` is 0);
    ``train=False`` is deterministic."""
    if train and key is None and rate > 0:
        raise ValueError("apply(train=True) with dropout needs a PRNG key (key=...)")
    return dense(params["fc"][-1], _trunk(params, x, train=train, key=key, rate=rate))


def features(params, x):
    """Penultimate-layer activations ``[N, hidden[-1]]`` (post-ReLU, eval mode) of images in [0, 1]."""
    return _trunk(params, x, train=False, key=None, rate=0.0)


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy (nats) of ``logits [N, K]`` against int ``labels [N]``, float32."""
    logp = jax.nn.log_softmax(logits.astype(jnp.promote_types(logits.dtype, jnp.float32)))
    return -jnp.take_along_axis(logp, labels[:, None].astype(jnp.int32), axis=1).mean()


def loss_fn(params, batch, key, step, *, rate=DROPOUT):
    """The trainer's loss: ``batch = {"x": [N, H, W, C] in [0, 1], "y": [N]}`` -> (loss, metrics)."""
    del step
    logits = apply(params, batch["x"], train=True, key=key, rate=rate)
    acc = (logits.argmax(-1) == batch["y"]).mean()
    return cross_entropy(logits, batch["y"]), {"acc": acc}


def head_labels(params):
    """A label per leaf for ``optax.multi_transform``: ``"head"`` for the last fc layer, ``"body"`` for
    the rest (the feature extractor)."""
    n = len(params["fc"])
    return {"conv": jax.tree_util.tree_map(lambda _: "body", params["conv"]),
            "fc": [jax.tree_util.tree_map(lambda _, i=i: "head" if i == n - 1 else "body", p)
                   for i, p in enumerate(params["fc"])]}
