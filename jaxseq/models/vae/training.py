"""Training and scoring an MLP VAE / CVAE on 28x28 images (Fashion-MNIST, MNIST): the experiment's
configuration, one training run with resume, the fixed binarisation of the test set and the test ELBO
and importance-weighted NLL.

Likelihoods are in nats on binary images: training draws x ~ Bernoulli(intensity) each step (dynamic
binarisation); the test set is binarised once with a fixed seed, so every run scores the same images.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.batching import batch_indices
from jaxseq.data.files import require_kind
from jaxseq.models.vae import model as vae
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.loop import TrainConfig, fit

N_CLASSES = 10


@dataclasses.dataclass
class VAETrainConfig:
    data: str = "fashion-mnist"   # IDX data set (jaxseq.data.mnist.SETS)
    t10k_split: float = 0.0       # > 0: train on this fraction of the 10k test images, score the rest
    conditional: bool = False     # a CVAE conditioned on the class
    hidden: tuple = (512, 256)    # encoder hidden sizes (the decoder mirrors them)
    z_dim: int = 20               # latent size
    epochs: float = 20.0          # training epochs (may be fractional)
    batch_size: int = 128
    lr: float = 1e-3              # Adam, cosine-decayed to a tenth
    seed: int = 0                 # init, batches and the test-set binarisation
    iw_k: int = 1000              # importance samples per test image (a multiple of 100)
    eval_n: int = 0               # score only the first N test images (0: all)

    def __post_init__(self):
        self.hidden = tuple(int(h) for h in self.hidden)
        if not self.hidden or min(self.hidden) < 1 or self.z_dim < 1:
            raise ValueError(f"hidden sizes {self.hidden} and z_dim {self.z_dim} must be positive")
        if self.epochs <= 0 or self.batch_size < 1:
            raise ValueError(f"epochs {self.epochs} and batch_size {self.batch_size} must be positive")
        if self.iw_k < 1 or (self.iw_k > 100 and self.iw_k % 100):
            raise ValueError(f"iw_k = {self.iw_k}: give a multiple of 100 (or at most 100)")
        if not 0.0 <= self.t10k_split < 1.0:
            raise ValueError(f"t10k_split = {self.t10k_split}: a fraction in [0, 1)")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")
        if self.eval_n < 0:
            raise ValueError(f"eval_n = {self.eval_n}: give 0 (all test images) or a positive count")

    @property
    def n_classes(self):
        return N_CLASSES if self.conditional else 0


def model_config(cfg: VAETrainConfig, x_dim) -> vae.VAEConfig:
    return vae.VAEConfig(x_dim, cfg.hidden, cfg.z_dim, cfg.n_classes)


def n_steps(cfg: VAETrainConfig, n_train):
    return int(cfg.epochs * n_train / cfg.batch_size)


def train(cfg: VAETrainConfig, train_x, train_y, ckpt_dir, *, meta=None, time_budget_s=None, log=None):
    """Train on ``train_x`` (uint8 ``[N, D]``) into ``ckpt_dir``, resuming there (a finished run is only
    restored). Returns ``(params, history, steps_done, steps)``."""
    vcfg = model_config(cfg, train_x.shape[1])
    params = vae.init(jax.random.PRNGKey(cfg.seed), vcfg)
    steps = n_steps(cfg, len(train_x))
    tcfg = TrainConfig(steps=steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.1, clip_norm=0.0,
                       seed=cfg.seed, log_every=200, keep=1)
    x = train_x.astype(np.float32) / 255.0

    def batch_fn(step):
        i = batch_indices(step, len(x), cfg.batch_size, cfg.seed)
        return {"x": x[i], "y": train_y[i]}

    ckpt = Checkpointer(as_path(ckpt_dir), keep=1)
    meta = {**(meta or {}), "config": dataclasses.asdict(cfg), "vae": dataclasses.asdict(vcfg)}
    try:
        if ckpt.latest_step() is not None:   # resuming: only from a VAE run
            require_kind(ckpt_dir, ckpt.read_meta(), "VAE")
        params, hist = fit(functools.partial(vae.loss_fn, n_classes=cfg.n_classes), params, batch_fn,
                           tcfg, ckpt=ckpt, meta=meta, log=log, time_budget_s=time_budget_s)
        done = ckpt.latest_step() or 0
    finally:
        ckpt.close()
    return params, hist, done, steps


def fixed_binarization(x, seed=0):
    """uint8 images -> float32 {0, 1}, x ~ Bernoulli(intensity) with a generator seeded by ``seed``."""
    rng = np.random.default_rng(seed + 12345)
    return (rng.random(x.shape) < x / 255.0).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _scorer(n_classes, iw_k):
    @jax.jit
    def score(params, x, y, key):
        ke, ki = jax.random.split(key)
        y = y if n_classes else None
        e = vae.elbo(params, x, ke, y, n_classes=n_classes)["elbo"]
        iw = vae.iwae_bound(params, x, ki, iw_k, y, n_classes=n_classes)
        return e.sum(), iw.sum()
    return score


def evaluate(params, x_bin, y, key, *, n_classes=0, iw_k=1000, batch=500):
    """Mean test ELBO and IW-NLL (``-iwae_bound`` with ``iw_k`` samples) in nats over the first
    ``(len // batch) * batch`` binary images ``x_bin [N, D]`` (``batch`` shrinks to N when N is smaller)."""
    bs = min(batch, len(x_bin))
    n = (len(x_bin) // bs) * bs
    score = _scorer(n_classes, iw_k)
    tot_e = tot_iw = 0.0
    for i in range(0, n, bs):
        e, iw = score(params, jnp.asarray(x_bin[i:i + bs]), jnp.asarray(y[i:i + bs]),
                      jax.random.fold_in(key, i))
        tot_e, tot_iw = tot_e + float(e), tot_iw + float(iw)
    return {"test_elbo": tot_e / n, "test_iw_nll": -tot_iw / n, "n_scored": n}
