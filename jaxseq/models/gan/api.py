"""The GAN facade: a loaded generator that samples images in one call.

    from jaxseq.models.gan import api
    m = api.load("cgan")                           # the shipped CGAN; or a run's ckpt / exported generator
    imgs = m.sample(16, key=0, labels=3)           # [16, 28, 28] in [0, 1]; labels: cgan class / infogan code
    grid = m.traverse(0)                           # infogan: code c2[1] (index 0) from -1 to 1 along each row
"""
from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.errors import DataError
from jaxseq.models.gan import model as gm
from jaxseq.models.gan.training import require_gan
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import load_for_sampling

SIDE = 28
SHIPPED = Path(__file__).resolve().parents[3] / "ckpt" / "gan"   # ckpt/gan/cgan: the shipped CGAN


@functools.lru_cache(maxsize=8)
def _generate(cfg: gm.GANConfig):
    return jax.jit(lambda g, lat: gm.generate(g, lat, cfg))


def _key(key):
    return jax.random.PRNGKey(key) if isinstance(key, (int, np.integer)) else key


class GAN:
    """A trained generator (``gan``, ``cgan`` or ``infogan``): :meth:`sample` and :meth:`traverse`.
    Images come back as float32 numpy ``[N, 28, 28]`` in [0, 1]."""

    def __init__(self, params, config: gm.GANConfig, meta=None):
        self.g = jax.tree_util.tree_map(jnp.asarray, params["g"])
        self.config, self.meta = config, meta or {}

    @property
    def kind(self):
        return self.config.kind

    def _codes(self, values, n, what):
        """Labels / categorical codes broadcast to ``[n]``, checked against the number of classes."""
        k = self.config.n_classes
        v = np.broadcast_to(np.asarray(values), (n,)).astype(np.int64)
        if v.size and (v.min() < 0 or v.max() >= k):
            raise ValueError(f"{what} must lie in 0..{k - 1}, got {sorted(set(v.tolist()))[:10]}")
        return jnp.asarray(v, jnp.int32)

    def latent(self, n, key=0, labels=None, cont=None):
        """The generator inputs for ``n`` images: noise from ``key`` (a PRNG key or an int seed);
        ``labels`` (an int or ``[n]``) fixes the cgan's class or the infogan's categorical code (drawn
        uniformly when None); ``cont`` (``[n, n_cont]`` or broadcastable) fixes infogan's continuous
        codes (U(-1, 1) draws when None)."""
        n = int(n)
        if labels is not None and self.kind == "gan":
            raise ValueError("this is an unconditional GAN: it takes no labels")
        if cont is not None and self.kind != "infogan":
            raise ValueError(f"continuous codes are for an infogan; this model is a {self.kind}")
        y = None if labels is None else self._codes(labels, n, "labels")
        lat = gm.sample_latent(_key(key), n, self.config, y)
        if cont is not None:
            lat["cont"] = jnp.broadcast_to(jnp.asarray(cont, jnp.float32), (n, self.config.n_cont))
        return lat

    def sample(self, n, key=0, labels=None, cont=None, batch=5000):
        """``[n, 28, 28]`` images in [0, 1] (see :meth:`latent` for the arguments), generated
        ``batch`` at a time."""
        lat = self.latent(n, key, labels, cont)
        gen = _generate(self.config)
        out = [np.asarray(gen(self.g, jax.tree_util.tree_map(lambda a: a[i:i + batch], lat)))
               for i in range(0, int(n), batch)]
        return np.concatenate(out).reshape(int(n), SIDE, SIDE) if out else np.zeros((0, SIDE, SIDE),
                                                                                     np.float32)

    def class_grid(self, cols=10, key=0):
        """cgan / infogan: ``[K * cols, 28, 28]``, row k holds ``cols`` images of label / code k (the
        infogan's other codes set to 0)."""
        if self.kind == "gan":
            raise ValueError("an unconditional GAN has no classes; use sample()")
        k = self.config.n_classes
        labels = np.repeat(np.arange(k), cols)
        cont = 0.0 if self.kind == "infogan" else None
        return self.sample(k * cols, key, labels, cont)

    def traverse(self, index, cols=10, rows=10, key=0, span=1.0):
        """infogan: ``[rows * cols, 28, 28]``; along a row the continuous code ``index`` goes from
        ``-span`` to ``span`` while the noise, the categorical code (row r: code r mod K) and the other
        continuous codes (0) stay fixed."""
        if self.kind != "infogan":
            raise ValueError(f"traversals are for an infogan; this model is a {self.kind}")
        if not 0 <= index < self.config.n_cont:
            raise ValueError(f"continuous code index {index}: this model has {self.config.n_cont}")
        base = self.latent(rows, key, np.arange(rows) % self.config.n_classes)
        rep = jax.tree_util.tree_map(lambda a: jnp.repeat(a, cols, 0), base)
        cont = np.zeros((rows * cols, self.config.n_cont), np.float32)
        cont[:, index] = np.tile(np.linspace(-span, span, cols), rows)
        rep["cont"] = jnp.asarray(cont)
        return np.asarray(_generate(self.config)(self.g, rep)).reshape(-1, SIDE, SIDE)


def load(path="cgan", step=None) -> GAN:
    """The generator in checkpoint directory ``path``: the ``ckpt`` folder of an ``experiments/gan.py``
    run, an ``export`` of it, or ``"cgan"``, the shipped CGAN generator (``ckpt/gan/cgan``, found from any
    working directory)."""
    name, path = str(path), as_path(path)
    if not path.is_dir() and "/" not in name and (SHIPPED / name).is_dir():
        path = SHIPPED / name
    if not path.is_dir():
        raise DataError(f"no GAN checkpoint at {path}: not a directory (shipped: 'cgan' in {SHIPPED}); "
                        f"train one with experiments/gan.py")
    params, meta = load_for_sampling(path, step)
    require_gan(path, meta)
    return GAN(params, gm.GANConfig(**meta["gan"]), meta)
