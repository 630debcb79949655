"""Training CycleGAN: the experiment's configuration, the two unpaired domains, and one jitted step that updates
both generators and then both discriminators, run by the image GANs' two-player loop
(:func:`jaxseq.models.dcgan.loop.run`: resume, time budget, history).

The step follows the authors' code (``CycleGANModel.optimize_parameters``): the generators' gradient is
taken against the discriminators as they are, then the discriminators are updated on real images and on
the generated ones drawn through the history pool. Adam (lr 2e-4, beta1 0.5) for each pair; the
learning rate is constant for the first ``decay_from`` of the steps, then falls linearly to 0.

The default domains are two Fashion-MNIST classes (horse2zebra is not available here): A = sneakers
(class 7) from a seeded random half of the 60k training images, B = ankle boots (class 9) from the other
half, so no image of one domain has a partner in the other; batches of A and B are drawn independently.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
import optax

from jaxseq.data import images as imx
from jaxseq.data.batching import batch_indices, split_indices
from jaxseq.errors import DataError
from jaxseq.models.cyclegan import model as cg
from jaxseq.models.dcgan import loop as gan_loop   # the two-player loop shared by the image GANs
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer

FAMILY = "cyclegan"
DATA = ("fashion-mnist", "mnist", "horse2zebra")
FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                   "bag", "ankle boot")


@dataclasses.dataclass
class CycleGANTrainConfig:
    data: str = "fashion-mnist"   # fashion-mnist / mnist (two classes) or horse2zebra (photos)
    domain_a: int = 7             # class of domain A (7: sneaker); IDX data sets only
    domain_b: int = 9             # class of domain B (9: ankle boot); IDX data sets only
    photo_size: int = 64          # horse2zebra only: photos resized to this side
    ngf: int = 16                 # generator width (16: 0.34M params per generator)
    n_down: int = 2               # stride-2 down- (and up-) samplings in each generator
    n_res: int = 4                # residual blocks in each generator
    ndf: int = 32                 # discriminator width
    d_layers: int = 2             # stride-2 layers of the PatchGAN
    lambda_cyc: float = 10.0      # cycle-consistency weight
    lambda_id: float = 0.5        # identity weight, relative to lambda_cyc (0 disables)
    pool_size: int = 50           # history pool of generated images per domain (0: none)
    steps: int = 4000             # training steps
    batch_size: int = 16          # images of each domain per step
    lr: float = 2e-4              # Adam learning rate of both pairs
    beta1: float = 0.5            # Adam beta1
    decay_from: float = 0.5       # fraction of steps after which the lr decays linearly to 0
    seed: int = 0                 # init, domain split, batches, pool
    log_every: int = 100          # history row every N steps

    def __post_init__(self):
        if self.domain_a == self.domain_b:
            raise ValueError(f"domain_a = {self.domain_a}: the two domains must be different classes")
        for k in ("domain_a", "domain_b"):
            if not 0 <= getattr(self, k) < 10:
                raise ValueError(f"{k} = {getattr(self, k)}: a class 0..9")
        for k in ("steps", "batch_size", "log_every", "ngf", "ndf", "d_layers"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} = {getattr(self, k)}: must be >= 1")
        if self.n_res < 0 or self.pool_size < 0 or self.n_down < 0:
            raise ValueError(f"n_res = {self.n_res}, n_down = {self.n_down}, pool_size = {self.pool_size}: "
                             f"must be >= 0")
        if not self.lr > 0 or not 0 <= self.beta1 < 1:
            raise ValueError(f"lr = {self.lr}, beta1 = {self.beta1}: need lr > 0 and 0 <= beta1 < 1")
        if self.lambda_cyc < 0 or self.lambda_id < 0:
            raise ValueError(f"lambda_cyc = {self.lambda_cyc}, lambda_id = {self.lambda_id}: must be >= 0")
        if self.data not in DATA:
            raise ValueError(f"data = {self.data!r}: choose one of {DATA}")
        if self.photo_size < 4:
            raise ValueError(f"photo_size = {self.photo_size}: must be >= 4")
        if not 0 <= self.decay_from <= 1:
            raise ValueError(f"decay_from = {self.decay_from}: a fraction in [0, 1]")


def model_config(cfg: CycleGANTrainConfig, image_size=28, channels=1) -> cg.CycleGANConfig:
    return cg.CycleGANConfig(channels=channels, image_size=image_size, ngf=cfg.ngf, n_down=cfg.n_down,
                             n_res=cfg.n_res, ndf=cfg.ndf, d_layers=cfg.d_layers)


# -------------------------------------------------------------------------------------------- data
def class_domains(images, labels, test_images, test_labels, a, b, seed=0):
    """Two unpaired domains from a labelled image set: ``{"train_a", "train_b", "test_a", "test_b",
    "spare_a", "spare_b"}`` as uint8 ``[N, H, W, 1]``. Training A comes from a seeded random half of the
    training images and training B from the other half (disjoint source images); the test domains are all
    test images of each class. ``spare_*`` are the training images of each class that training never sees
    (class A in B's half and vice versa): real images for a real-vs-real reference."""
    images, test_images = imx.to_nhwc(np.asarray(images)), imx.to_nhwc(np.asarray(test_images))
    half_a, half_b = split_indices(len(images), [0.5, 0.5], seed=seed)
    out = {"train_a": images[half_a[labels[half_a] == a]], "train_b": images[half_b[labels[half_b] == b]],
           "test_a": test_images[test_labels == a], "test_b": test_images[test_labels == b],
           "spare_a": images[half_b[labels[half_b] == a]], "spare_b": images[half_a[labels[half_a] == b]]}
    for k, v in out.items():
        if len(v) == 0:
            raise DataError(f"domain {k} is empty: no images of class {a if k.endswith('a') else b}")
    return out


def load_domains(cfg: CycleGANTrainConfig, data_dir=None):
    """``(domains, description)``: two classes of an IDX set (:func:`class_domains`) or the horse2zebra
    photos (:mod:`jaxseq.data.horse2zebra`, resized to ``photo_size``)."""
    if cfg.data == "horse2zebra":
        from jaxseq.data import horse2zebra
        d = horse2zebra.load_domains(data_dir, size=cfg.photo_size)
        return d, (f"horse2zebra at {cfg.photo_size}x{cfg.photo_size}: train {len(d['train_a'])} horses / "
                   f"{len(d['train_b'])} zebras, test {len(d['test_a'])} / {len(d['test_b'])}")
    from jaxseq.data import mnist
    xtr, ytr, xte, yte, _ = mnist.load_split(cfg.data, data_dir)
    d = class_domains(xtr, ytr, xte, yte, cfg.domain_a, cfg.domain_b, cfg.seed)
    names = [FASHION_CLASSES[c] if cfg.data == "fashion-mnist" else f"digit {c}"
             for c in (cfg.domain_a, cfg.domain_b)]
    desc = (f"{cfg.data}: A = {names[0]} (class {cfg.domain_a}), B = {names[1]} (class {cfg.domain_b}); "
            f"unpaired: train A from a random half of the training images ({len(d['train_a'])}), train B "
            f"from the other half ({len(d['train_b'])}); test {len(d['test_a'])} A / {len(d['test_b'])} B")
    return d, desc


def domain_meta(cfg: CycleGANTrainConfig):
    """What a checkpoint records about its domains (enough to reload the test images)."""
    if cfg.data == "horse2zebra":
        return {"data": cfg.data, "a": "horse", "b": "zebra", "photo_size": cfg.photo_size}
    return {"data": cfg.data, "a": cfg.domain_a, "b": cfg.domain_b, "seed": cfg.seed}


# -------------------------------------------------------------------------------------- optimizer
def lr_schedule(cfg: CycleGANTrainConfig):
    """Constant ``lr`` for ``decay_from * steps`` steps, then linear to 0 at ``steps`` (the authors'
    ``n_epochs`` + ``n_epochs_decay``)."""
    k = int(round(cfg.decay_from * cfg.steps))
    if k >= cfg.steps:
        return optax.constant_schedule(cfg.lr)
    return optax.join_schedules([optax.constant_schedule(cfg.lr),
                                 optax.linear_schedule(cfg.lr, 0.0, cfg.steps - k)], [k])


def make_optimizer(cfg: CycleGANTrainConfig):
    return optax.adam(lr_schedule(cfg), b1=cfg.beta1, b2=0.999)


def init_state(key, cfg: CycleGANTrainConfig, mcfg: cg.CycleGANConfig):
    """``(params, opt)``: all four nets, and ``{"opt_g", "opt_d", "pool_a", "pool_b"}`` (optimizer
    states of the generator and discriminator pairs and the two history pools)."""
    params = cg.init(key, mcfg)
    opt = make_optimizer(cfg)
    shape = (mcfg.image_size, mcfg.image_size, mcfg.channels)
    return params, {"opt_g": opt.init(gens(params)), "opt_d": opt.init(discs(params)),
                    "pool_a": cg.pool_init(cfg.pool_size, shape), "pool_b": cg.pool_init(cfg.pool_size, shape)}


def gens(params):
    return {"g_ab": params["g_ab"], "g_ba": params["g_ba"]}


def discs(params):
    return {"d_a": params["d_a"], "d_b": params["d_b"]}


def make_train_step(cfg: CycleGANTrainConfig):
    """``step(state, batch, key) -> (state, metrics)``, jitted. ``state = {"params", "opt"}`` (see
    :func:`init_state`); ``batch = {"a", "b"}`` float32 NHWC in [-1, 1], one batch of each domain. The
    same loss and optimizer settings reuse one jitted step (and its compilation)."""
    return _train_step(*(getattr(cfg, f) for f in _STEP_FIELDS))


_STEP_FIELDS = ("lambda_cyc", "lambda_id", "lr", "beta1", "decay_from", "steps")


@functools.lru_cache(maxsize=8)
def _train_step(*values):
    cfg = CycleGANTrainConfig(**dict(zip(_STEP_FIELDS, values)))
    optimizer = make_optimizer(cfg)

    def g_loss(g, d, a, b):
        total, parts, fakes = cg.generator_losses(g, d, a, b, lambda_cyc=cfg.lambda_cyc,
                                                  lambda_id=cfg.lambda_id)
        return total, (parts, fakes)

    def step(state, batch, key):
        params, opt, a, b = state["params"], state["opt"], batch["a"], batch["b"]
        g, d = gens(params), discs(params)
        # 1. both generators against the discriminators as they are
        (lg, (gparts, (fake_a, fake_b))), gg = jax.value_and_grad(g_loss, has_aux=True)(g, d, a, b)
        up, opt_g = optimizer.update(gg, opt["opt_g"], g)
        g = optax.apply_updates(g, up)
        # 2. both discriminators on real images and on fakes drawn through the history pools
        ka, kb = jax.random.split(key)
        shown_a, pool_a = cg.pool_query(opt["pool_a"], fake_a, ka)
        shown_b, pool_b = cg.pool_query(opt["pool_b"], fake_b, kb)
        (ld, dparts), gd = jax.value_and_grad(cg.discriminator_losses, has_aux=True)(d, a, b, shown_a,
                                                                                      shown_b)
        up, opt_d = optimizer.update(gd, opt["opt_d"], d)
        d = optax.apply_updates(d, up)
        opt = {"opt_g": opt_g, "opt_d": opt_d, "pool_a": pool_a, "pool_b": pool_b}
        return {"params": {**g, **d}, "opt": opt}, dict(gparts, **dparts, loss_g=lg, loss_d=ld)
    return jax.jit(step, donate_argnums=(0,))


# ---------------------------------------------------------------------------------------- the loop
def _batch(x_uint8, step, batch_size, seed):
    i = batch_indices(step, len(x_uint8), batch_size, seed, shard=(0, 1))
    return imx.to_signed(x_uint8[i])


def train(cfg: CycleGANTrainConfig, domains, ckpt_dir, *, meta=None, time_budget_s=None, progress=True):
    """Train on ``domains`` (``train_a``/``train_b`` uint8 ``[N, H, W, C]``) into ``ckpt_dir``, resuming
    from its latest step. Returns ``(params, history, steps_done)``; ``history.stopped`` is
    ``"time_budget"`` when the budget ran out first (run again to continue)."""
    xa, xb = domains["train_a"], domains["train_b"]
    if xa.shape[1:] != xb.shape[1:]:
        raise DataError(f"the two domains hold images of different shapes: {xa.shape[1:]} and {xb.shape[1:]}")
    if min(len(xa), len(xb)) < cfg.batch_size:
        raise ValueError(f"batch_size = {cfg.batch_size}: larger than a domain ({len(xa)} A, {len(xb)} B "
                         f"images)")
    mcfg = model_config(cfg, xa.shape[1], xa.shape[3])
    params, opt = init_state(jax.random.PRNGKey(cfg.seed), cfg, mcfg)
    meta = {**(meta or {}), "family": FAMILY, "cyclegan": dataclasses.asdict(mcfg),
            "domains": domain_meta(cfg)}
    ckpt = Checkpointer(as_path(ckpt_dir), keep=1)
    try:
        last = ckpt.latest_step()
        if last is not None and ckpt.read_meta(last).get("family") != FAMILY:
            raise DataError(f"{ckpt_dir} holds a checkpoint of another kind, not a CycleGAN run; use a new "
                            f"checkpoint directory")

        def batch_fn(step):   # the two domains drawn independently: no pairing between them
            return {"a": _batch(xa, step, cfg.batch_size, cfg.seed),
                    "b": _batch(xb, step, cfg.batch_size, cfg.seed + 7919)}
        params, history = gan_loop.run(make_train_step(cfg), {"params": params, "opt": opt}, batch_fn,
                                       steps=cfg.steps, ckpt=ckpt, meta=meta, train_cfg=cfg,
                                       seed=cfg.seed + 1, log_every=cfg.log_every,
                                       time_budget_s=time_budget_s, progress=progress)
    finally:
        ckpt.close()
    return params, history, history.step
