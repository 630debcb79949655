"""Training BEGAN: per step one noise batch z ~ U(-1, 1), the generator's fakes G(z), and simultaneous
Adam steps of both networks from the same discriminator: D on ``L(x) - k_t L(G(z))`` (fakes held fixed),
G on ``L(G(z))`` (D held fixed); then ``k_t`` moves by ``lambda_k (gamma L(x) - L(G(z)))``, clipped to
[0, 1]. The paper draws separate z_D and z_G; one batch serves both here (as in carpedm20's widely used
implementation), so L(G(z_D)) and L(G(z_G)) are the same number and one forward pass feeds both gradients.

``k_t`` lives in the params tree (``params["k"]``), so a checkpoint resumes it exactly; ``M_global`` is
logged each ``log_every`` steps and :func:`plot_convergence` draws it.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax

from jaxseq.models.began import model as bm
from jaxseq.models.dcgan.shared import DATA, check_config, require_family, sample_batches, train_run


@dataclasses.dataclass
class BEGANTrainConfig:
    data: str = "fashion-mnist"   # fashion-mnist (28x28 padded to 32) | celeba (RGB faces; not here)
    size: int = 32                # image side (a power of two)
    h: int = 64                   # embedding and noise size
    n: int = 64                   # conv filters
    gamma: float = 0.5            # diversity ratio E[L(G(z))] / E[L(x)] (lower: sharper, less diverse)
    lambda_k: float = 0.001       # k_t learning rate
    steps: int = 20000
    batch_size: int = 64
    lr: float = 1e-4              # Adam, both networks
    beta1: float = 0.5            # Adam beta1
    lr_halve_every: int = 0       # halve the learning rate every N steps (0: constant)
    seed: int = 0                 # init, batch order, noise
    n_fixed: int = 64             # the fixed noise batch tracked over training
    sample_every: int = 1000      # fixed-noise snapshot every N steps (0: first and last only)
    log_every: int = 100

    def __post_init__(self):
        check_config(self)
        if self.lr_halve_every < 0:
            raise ValueError(f"lr_halve_every = {self.lr_halve_every}: give 0 or a positive count")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma = {self.gamma}: give a diversity ratio in (0, 1]")
        if not self.lambda_k >= 0:
            raise ValueError(f"lambda_k = {self.lambda_k}: must be >= 0")
        self.model_config()

    def model_config(self) -> bm.BEGANConfig:
        return bm.BEGANConfig(self.size, DATA[self.data], self.h, self.n)


def optimizer(cfg: BEGANTrainConfig):
    lr = (optax.exponential_decay(cfg.lr, cfg.lr_halve_every, 0.5, staircase=True) if cfg.lr_halve_every
          else cfg.lr)
    return optax.adam(lr, b1=cfg.beta1, b2=0.999)


def init_state(cfg: BEGANTrainConfig):
    mcfg = cfg.model_config()
    kg, kd = jax.random.split(jax.random.PRNGKey(cfg.seed))
    params = {"g": bm.g_init(kg, mcfg), "d": bm.d_init(kd, mcfg), "k": jnp.zeros((), jnp.float32)}
    opt = optimizer(cfg)
    return {"params": params, "opt": {"g": opt.init(params["g"]), "d": opt.init(params["d"])}}


def train_step(state, real, key, *, opt, h, gamma, lambda_k):
    """One simultaneous D and G step and the k_t update. real: [B, H, W, C] in [-1, 1]."""
    p, o = state["params"], state["opt"]
    z = noise(key, real.shape[0], h)
    fake, g_vjp = jax.vjp(lambda g: bm.generate(g, z), p["g"])
    # one forward and one backward pass of D per branch: L(x) gives D's gradient, L(G(z)) gives D's and
    # (through the fakes) G's
    loss_real, d_real = jax.value_and_grad(bm.recon_loss)(p["d"], real)
    loss_fake, (d_fake, dx) = jax.value_and_grad(bm.recon_loss, argnums=(0, 1))(p["d"], fake)
    k = p["k"]
    d_grads = jax.tree_util.tree_map(lambda a, b: a - k * b, d_real, d_fake)   # d/dD [L(x) - k_t L(G(z))]
    (g_grads,) = g_vjp(dx)                                                      # d/dG L(G(z))
    upd, o_d = opt.update(d_grads, o["d"], p["d"])
    d = optax.apply_updates(p["d"], upd)
    upd, o_g = opt.update(g_grads, o["g"], p["g"])
    g = optax.apply_updates(p["g"], upd)
    k_new = bm.k_update(k, loss_real, loss_fake, gamma, lambda_k)
    metrics = {"loss_real": loss_real, "loss_fake": loss_fake, "loss_d": loss_real - k * loss_fake,
               "k": k, "m_global": bm.m_global(loss_real, loss_fake, gamma)}
    return {"params": {"g": g, "d": d, "k": k_new}, "opt": {"g": o_g, "d": o_d}}, metrics


def make_step(cfg: BEGANTrainConfig):
    return jax.jit(functools.partial(train_step, opt=optimizer(cfg), h=cfg.h, gamma=cfg.gamma,
                                     lambda_k=cfg.lambda_k), donate_argnums=(0,))


@jax.jit
def generate(params, z):
    """Images ``[B, size, size, C]`` (about [-1, 1]) of noise ``z [B, h]``."""
    return bm.generate(params["g"], z)


def fixed_noise(cfg: BEGANTrainConfig):
    return noise(jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 0x5EED), cfg.n_fixed, cfg.h)


def noise(key, n, h):
    """z ~ U(-1, 1), ``[n, h]``."""
    return jax.random.uniform(key, (n, h), jnp.float32, -1.0, 1.0)


def sample(params, n, seed=0, batch=500):
    """``n`` images ``[n, size, size, C]`` (float32, about [-1, 1]) from ``seed``."""
    h = params["g"]["in"]["w"].shape[0]
    return sample_batches(lambda z: generate(params, z), lambda k, b: noise(k, b, h), n, seed, batch)


def require_began(directory, meta):
    require_family(directory, meta, "began")


def train(cfg: BEGANTrainConfig, images, ckpt_dir, *, meta=None, time_budget_s=None, progress=True,
          log=None):
    """Train on uint8 ``images [N, size, size, C]`` into ``ckpt_dir`` (resuming there). Fixed-noise
    snapshots go to ``<ckpt_dir>/fixed/``. Returns ``(params, history)``."""
    return train_run(cfg, "began", images, ckpt_dir, step_fn=make_step(cfg), state=init_state(cfg),
                     generate=generate, z_fixed=fixed_noise(cfg), meta=meta, time_budget_s=time_budget_s,
                     progress=progress, log=log)


def plot_convergence(history, path, gamma=None):
    """M_global (and L(x), L(G(z)), k_t) over training from the history rows of :func:`train`."""
    from jaxseq.viz.figures import curves, save_figure
    rows = [r for r in history if "m_global" in r]
    steps = [r["step"] for r in rows]

    def draw(fig):
        a, b = fig.subplots(1, 2)
        curves(a, {"M_global": (steps, [r["m_global"] for r in rows]),
                   "L(x)": (steps, [r["loss_real"] for r in rows]),
                   "L(G(z))": (steps, [r["loss_fake"] for r in rows])},
               ylabel="L1 per pixel", title="BEGAN convergence measure" + (f" (gamma {gamma})" if gamma else ""))
        curves(b, {"k_t": (steps, [r["k"] for r in rows])}, ylabel="k_t", title="equilibrium term")
    return save_figure(path, draw, size=(10, 3.5), dpi=90)
