"""The CNN facade: ``load()`` a trained classifier (the shipped Fashion-MNIST one by default), then
``predict`` / ``predict_proba`` / ``features`` on images.

    from jaxseq.models.cnn import api
    clf = api.load()                        # ckpt/cnn/fashion-mnist, from any working directory
    labels = clf.predict(x)                 # x: uint8 or [0, 1] float, [N, 28, 28] or [N, 28, 28, 1]
    names = [clf.classes[i] for i in labels]
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import images
from jaxseq.models.cnn import model as cnn
from jaxseq.models.cnn import training as ct
from jaxseq.paths import find_shipped, shipped_names
from jaxseq.training import checkpoint

REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED_ROOT = REPO_ROOT / "ckpt" / "cnn"          # ckpt/cnn/fashion-mnist
DEFAULT = "fashion-mnist"


def shipped() -> list:
    return shipped_names(SHIPPED_ROOT)


def resolve_checkpoint(name_or_path=DEFAULT) -> Path:
    """A shipped name (``fashion-mnist``: ``ckpt/cnn/<name>`` of this repository) or a checkpoint
    directory (a run's ``ckpt`` folder or an export)."""
    return find_shipped(name_or_path, SHIPPED_ROOT, "CNN",
                        "train one with experiments/cnn.py train or give its path")


class Classifier:
    """A trained CNN. Images: uint8 (0..255) or float in [0, 1], ``[N, H, W]`` or ``[N, H, W, C]``;
    inputs 4 pixels larger than the model's size are centre-cropped, 4 smaller are zero-padded
    (28 <-> 32)."""

    def __init__(self, params, config: cnn.CNNConfig, meta=None):
        self.params = jax.tree_util.tree_map(jnp.asarray, params)
        self.config, self.meta = config, meta or {}
        self.classes = tuple(self.meta.get("classes") or (str(i) for i in range(config.n_classes)))
        self._feats = jax.jit(cnn.features)

    def prepare(self, x):
        """Images as float32 ``[N, size, size, in_ch]`` in [0, 1] (a ValueError names a bad shape)."""
        x = np.asarray(x)
        if x.ndim == 2 and x.shape[1] == self.config.size ** 2 * self.config.in_ch:
            x = images.to_nhwc(x, self.config.size, self.config.in_ch)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[1] != x.shape[2] or x.shape[3] != self.config.in_ch:
            raise ValueError(f"images of shape {x.shape}: expected [N, H, W] or [N, H, W, "
                             f"{self.config.in_ch}] square images")
        s = self.config.size
        if x.shape[1] > s:
            x = images.center_crop(x, s)
        elif x.shape[1] < s:
            x = images.pad_to(x, s)
        if x.shape[1] != s:
            raise ValueError(f"images of {x.shape[1]}x{x.shape[2]} do not fit this {s}x{s} model")
        x = images.to_unit(x)
        if x.size and (x.min() < -1e-3 or x.max() > 1 + 1e-3):
            raise ValueError(f"float images must lie in [0, 1]; got values in [{x.min():.3g}, "
                             f"{x.max():.3g}] (rescale [-1, 1] images with data.images.from_signed)")
        return x

    def logits(self, x, batch=1000):
        return ct.predict_logits(self.params, self.prepare(x), batch)

    def predict_proba(self, x, batch=1000):
        """Class probabilities ``[N, n_classes]``."""
        return np.asarray(jax.nn.softmax(self.logits(x, batch), -1))

    def predict(self, x, batch=1000):
        """Predicted class indices ``[N]`` (int)."""
        return self.logits(x, batch).argmax(-1)

    def features(self, x, batch=1000):
        """Penultimate-layer activations ``[N, D]`` (float32 numpy), in batches of ``batch`` (the last
        one padded, so one compilation serves any N)."""
        x = self.prepare(x)
        out = []
        for i in range(0, len(x), batch):
            part = x[i:i + batch]
            n = len(part)
            if n < batch and len(x) > batch:
                part = np.concatenate([part, np.zeros((batch - n,) + part.shape[1:], part.dtype)])
            out.append(np.asarray(self._feats(self.params, part))[:n])
        return np.concatenate(out) if out else np.zeros((0, self.config.feature_dim), np.float32)


def load(name_or_path=DEFAULT, step=None) -> Classifier:
    """A trained classifier: the shipped ``fashion-mnist`` (default) or a checkpoint directory."""
    d = resolve_checkpoint(name_or_path)
    params, meta = checkpoint.load_for_sampling(d, step)
    ct._check_kind(d, meta)
    return Classifier(params, ct.config_from_meta(meta), meta)
