"""Training DCGAN the PyTorch-tutorial way: per step, (1) the discriminator on a real batch and on a fake
batch (separate batch-norm batches, as two forward calls), one Adam step on ``errD = errD_real +
errD_fake``; (2) the generator through the *updated* discriminator on the same fakes, one Adam step on the
non-saturating loss. Adam lr 2e-4, beta1 0.5 for both.

The generator runs forward once per step (``jax.vjp``): its fakes feed the discriminator step with the
gradient stopped, and the generator's gradient is the vjp of the discriminator's gradient with respect to
those fakes. Batch-norm state is threaded through every call in this order (D real -> D fake -> D on the
fakes for the generator step; G once) and returned; nothing is hidden.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax

from jaxseq.models.dcgan import model as dm
from jaxseq.models.dcgan.shared import DATA, check_config, require_family, sample_batches, train_run


@dataclasses.dataclass
class DCGANTrainConfig:
    data: str = "fashion-mnist"   # fashion-mnist (28x28 padded to 32) | celeba (RGB faces; not here)
    size: int = 32                # image side (a power of two; fashion-mnist: 32, celeba: 64)
    nz: int = 100                 # latent size, z ~ N(0, 1)
    ngf: int = 64                 # generator feature maps (last hidden layer)
    ndf: int = 64                 # discriminator feature maps (first layer)
    steps: int = 10000            # steps, one D and one G update each (469 per epoch at batch 128)
    batch_size: int = 128
    lr: float = 2e-4              # Adam, both networks
    beta1: float = 0.5            # Adam beta1 (Radford et al.)
    seed: int = 0                 # init, batch order, noise
    n_fixed: int = 64             # the fixed noise batch tracked over training
    sample_every: int = 500       # fixed-noise snapshot every N steps (0: first and last only)
    log_every: int = 100

    def __post_init__(self):
        check_config(self)
        self.model_config()   # checks size and the widths

    def model_config(self) -> dm.DCGANConfig:
        return dm.DCGANConfig(self.size, DATA[self.data], self.nz, self.ngf, self.ndf)


def init_params(key, mcfg: dm.DCGANConfig):
    """``{"g", "g_bn", "d", "d_bn"}``: both networks and their batch-norm running statistics."""
    kg, kd = jax.random.split(key)
    g, g_bn = dm.g_init(kg, mcfg)
    d, d_bn = dm.d_init(kd, mcfg)
    return {"g": g, "g_bn": g_bn, "d": d, "d_bn": d_bn}


def optimizer(cfg: DCGANTrainConfig):
    return optax.adam(cfg.lr, b1=cfg.beta1, b2=0.999)


def init_state(cfg: DCGANTrainConfig):
    params = init_params(jax.random.PRNGKey(cfg.seed), cfg.model_config())
    opt = optimizer(cfg)
    return {"params": params, "opt": {"g": opt.init(params["g"]), "d": opt.init(params["d"])}}


def train_step(state, real, key, *, opt, nz):
    """One D step then one G step. real: [B, H, W, C] in [-1, 1]. Returns ``(state, metrics)``."""
    p, o = state["params"], state["opt"]
    z = jax.random.normal(key, (real.shape[0], nz), jnp.float32)
    fake, g_vjp, g_bn = jax.vjp(lambda g: dm.g_apply(g, p["g_bn"], z, True), p["g"], has_aux=True)

    def d_objective(d):
        real_logits, s = dm.d_apply(d, p["d_bn"], real, True)
        fake_logits, s = dm.d_apply(d, s, jax.lax.stop_gradient(fake), True)
        return dm.d_loss(real_logits, fake_logits), (s, real_logits, fake_logits)

    (loss_d, (d_bn, real_logits, fake_logits)), d_grads = jax.value_and_grad(d_objective, has_aux=True)(p["d"])
    upd, o_d = opt.update(d_grads, o["d"], p["d"])
    d = optax.apply_updates(p["d"], upd)

    def g_objective(x):
        logits, s = dm.d_apply(d, d_bn, x, True)
        return dm.g_loss(logits), (s, logits)

    (loss_g, (d_bn, logits2)), dx = jax.value_and_grad(g_objective, has_aux=True)(fake)
    (g_grads,) = g_vjp(dx)
    upd, o_g = opt.update(g_grads, o["g"], p["g"])
    g = optax.apply_updates(p["g"], upd)
    metrics = {"loss_d": loss_d, "loss_g": loss_g, "d_real": jax.nn.sigmoid(real_logits).mean(),
               "d_fake": jax.nn.sigmoid(fake_logits).mean(), "d_fake_after": jax.nn.sigmoid(logits2).mean()}
    return {"params": {"g": g, "g_bn": g_bn, "d": d, "d_bn": d_bn}, "opt": {"g": o_g, "d": o_d}}, metrics


def make_step(cfg: DCGANTrainConfig):
    return jax.jit(functools.partial(train_step, opt=optimizer(cfg), nz=cfg.nz), donate_argnums=(0,))


@functools.partial(jax.jit, static_argnames=("train",))
def generate(params, z, train=False):
    """Images ``[B, size, size, C]`` in [-1, 1] of noise ``z [B, nz]``. ``train=False`` (sampling) uses
    the running batch-norm statistics; ``train=True`` normalises with this batch's own statistics."""
    return dm.g_apply(params["g"], params["g_bn"], z, train)[0]


def fixed_noise(cfg: DCGANTrainConfig):
    """The fixed noise batch ``[n_fixed, nz]`` tracked over training (a function of the seed)."""
    return jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 0x5EED), (cfg.n_fixed, cfg.nz))


def require_dcgan(directory, meta):
    require_family(directory, meta, "dcgan")


def train(cfg: DCGANTrainConfig, images, ckpt_dir, *, meta=None, time_budget_s=None, progress=True,
          log=None):
    """Train on uint8 ``images [N, size, size, C]`` into ``ckpt_dir`` (resuming there). Fixed-noise
    snapshots go to ``<ckpt_dir>/fixed/``. Returns ``(params, history)``."""
    return train_run(cfg, "dcgan", images, ckpt_dir, step_fn=make_step(cfg), state=init_state(cfg),
                     generate=lambda p, z: generate(p, z), z_fixed=fixed_noise(cfg),
                     meta={**(meta or {}), "sample_mode": "eval"}, time_budget_s=time_budget_s,
                     progress=progress, log=log)


def sample(params, n, seed=0, train_mode=False, batch=500):
    """``n`` images ``[n, size, size, C]`` as float32 in [-1, 1] from ``seed`` (noise batches of
    ``batch``; ``train_mode`` normalises each batch with its own BN statistics)."""
    nz = params["g"]["convs"][0]["w"].shape[2]
    return sample_batches(lambda z: generate(params, z, train_mode),
                          lambda k, b: jax.random.normal(k, (b, nz)), n, seed, batch)
