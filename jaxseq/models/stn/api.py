"""The spatial-transformer facade: a loaded model that classifies digits and shows how it warps them.
Defaults are the command line's."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import images
from jaxseq.models.stn import model as stn
from jaxseq.models.stn import training as st
from jaxseq.models.seq2seq.chatbot_train import find_checkpoint   # the shared name-or-path lookup
from jaxseq.training import checkpoint

REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED_ROOT = REPO_ROOT / "ckpt" / "stn"          # ckpt/stn/mnist


def shipped() -> list:
    return sorted(p.name for p in SHIPPED_ROOT.iterdir() if p.is_dir()) if SHIPPED_ROOT.is_dir() else []


def resolve_checkpoint(name_or_path="mnist") -> Path:
    """A shipped name (``ckpt/stn/<name>`` of this repository, from any working directory) or a
    checkpoint directory (a run's ``ckpt`` folder or an export)."""
    return find_checkpoint(name_or_path, SHIPPED_ROOT, "spatial-transformer")


class STN:
    """A trained classifier with (or, ``has_stn`` False, without) a spatial transformer. Images are
    28x28 digits as uint8 0..255 or floats in [0, 1], shaped ``[N, 784]``, ``[N, 28, 28]`` or
    ``[N, 28, 28, 1]``."""

    def __init__(self, params, config: stn.STNConfig, meta=None, path=None):
        self.params = jax.device_put(params)
        self.config, self.meta, self.path = config, meta or {}, path
        self._logits = jax.jit(lambda p, x: stn.apply(p, x, train=False))
        self._transform = jax.jit(stn.transform)

    @property
    def has_stn(self) -> bool:
        return "loc" in self.params

    def _prep(self, x):
        x = np.asarray(x)
        x = images.to_unit(images.to_nhwc(x, channels=self.config.cnn.in_ch))
        want = (self.config.cnn.size, self.config.cnn.size, self.config.cnn.in_ch)
        if x.shape[1:] != want:
            raise ValueError(f"images of shape {x.shape[1:]}; this model reads {want}")
        return jnp.asarray(x)

    def logits(self, x) -> np.ndarray:
        """``[N, 10]`` class scores."""
        return np.asarray(self._logits(self.params, self._prep(x)))

    def predict(self, x) -> np.ndarray:
        """``[N]`` predicted labels."""
        return self.logits(x).argmax(-1)

    def warp(self, x):
        """``(warped [N, H, W, C] in [0, 1], theta [N, 2, 3])``: what the CNN sees and the affine map
        the localisation net chose (the identity without a transformer)."""
        warped, theta = self._transform(self.params, self._prep(x))
        return np.asarray(warped), np.asarray(theta)

    def distort(self, x, seed=None):
        """``x`` under the training run's random affine distortions (seed: the run's ``test_seed``)."""
        cfg = st.STNTrainConfig(**self.meta["config"]) if "config" in self.meta else st.STNTrainConfig()
        cfg = cfg if seed is None else dataclasses.replace(cfg, test_seed=int(seed))
        return st.distorted_test_set(cfg, np.asarray(self._prep(x)))

    def score(self, x, y) -> dict:
        """``{"acc", "loss", "n"}`` on images ``x`` with labels ``y``."""
        return st.evaluate(self.params, np.asarray(self._prep(x)), np.asarray(y, np.int32))


def load(name_or_path="mnist", *, step=None) -> STN:
    """The model in a shipped name (``"mnist"``) or a checkpoint directory."""
    path = resolve_checkpoint(name_or_path)
    params, meta = checkpoint.load_for_sampling(path, step)
    return STN(params, st.model_from_meta(meta, path), meta, path)
