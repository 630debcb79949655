"""The toy experiment on Bishop's inverse problem: fit the least-squares net, a single Gaussian and an MDN
on the same points (full-batch Adam), score them on fresh points (NLL in nats per point, next to the exact
NLL of the true conditional), and the curves and densities its figure shows."""
from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.batching import process_rows
from jaxseq.models.mdn_regression import bishop
from jaxseq.models.mdn_regression.model import KINDS, init, loss_fn, predict
from jaxseq.nn import mixtures as mdn
from jaxseq.training.loop import TrainConfig, fit

TEST_SEED_OFFSET = 1000   # test points come from seed + 1000


@dataclasses.dataclass
class ToyConfig:
    n_train: int = 1000       # training points
    n_test: int = 5000        # test points (another seed)
    hidden: int = 32          # width of the two tanh hidden layers
    n_mix: int = 5            # MDN mixture components
    steps: int = 4000         # full-batch Adam steps per model
    lr: float = 5e-3          # Adam learning rate (cosine-decayed to 5 %)
    seed: int = 0             # data and init

    def __post_init__(self):
        for name in ("n_train", "n_test", "hidden", "n_mix", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be at least 1")
        if self.lr <= 0:
            raise ValueError(f"lr = {self.lr}: must be > 0")


def fit_model(kind, cfg: ToyConfig, x, y, *, progress=True, log=None):
    """Params of ``kind`` trained on all of ``(x, y)`` at every step (the data set is tiny)."""
    params = init(jax.random.PRNGKey(cfg.seed), kind, cfg.hidden, cfg.n_mix)
    tcfg = TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.05,
                       clip_norm=0.0, seed=cfg.seed, log_every=max(cfg.steps // 10, 1),
                       progress=progress)
    batch = process_rows({"x": x, "y": y})   # on several processes, each feeds its block of the rows
    params, _ = fit(functools.partial(loss_fn, kind=kind, n_mix=cfg.n_mix), params, lambda step: batch,
                    tcfg, log=log or (lambda s: None))
    return params


def evaluate(models, cfg: ToyConfig, x_tr, y_tr, x, y):
    """Test scores: the regression net's MSE and its Gaussian NLL with the training residual variance,
    the NLL of ``gauss`` and ``mdn``, and the exact NLL of the true conditional."""
    f = lambda xs: predict(models["mse"], jnp.asarray(xs), "mse")
    mse_tr = float(((f(x_tr) - y_tr) ** 2).mean())
    err = np.asarray(f(x)) - y
    res = {"regression_mse": float((err ** 2).mean()),
           "regression_gauss_nll": float(0.5 * math.log(2 * math.pi * mse_tr) + (err ** 2).mean()
                                         / (2 * mse_tr))}
    for kind in ("gauss", "mdn"):
        p = predict(models[kind], jnp.asarray(x), kind, cfg.n_mix)
        res[f"{kind}_nll"] = float(-mdn.gmm_log_prob(p, jnp.asarray(y)).mean())
    res["true_conditional_nll"] = float(-bishop.true_log_prob(x, y).mean())
    return res


def fit_toy(cfg: ToyConfig = None, *, progress=False, log=None):
    """Data, the three fits and their test scores: ``(models, results, data)`` with ``models`` keyed by
    kind and ``data = {"train": (x, y), "test": (x, y)}``."""
    cfg = cfg or ToyConfig()
    train = bishop.make_data(cfg.seed, cfg.n_train)
    test = bishop.make_data(cfg.seed + TEST_SEED_OFFSET, cfg.n_test)
    models = {k: fit_model(k, cfg, *train, progress=progress, log=log) for k in KINDS}
    return models, evaluate(models, cfg, *train, *test), {"train": train, "test": test}


def density(params, xs, ys, n_mix):
    """MDN density p(y | x) on the grid ``ys [Y]`` x ``xs [X]`` -> ``[Y, X]``."""
    p = predict(params, jnp.asarray(xs, jnp.float32), "mdn", n_mix)
    return np.exp(np.asarray(jax.vmap(lambda yv: mdn.gmm_log_prob(p, jnp.full(len(xs), yv)))(
        jnp.asarray(ys, jnp.float32))))


def figure_data(models, cfg: ToyConfig, x_range, n=300, x0s=(0.5, 0.3, 0.8)):
    """The arrays the toy figure draws: fits over ``n`` points of ``x_range``, the MDN density on a
    ``y`` grid over (-0.1, 1.1), its components, and conditional densities (MDN and exact) at ``x0s``."""
    xs = np.linspace(*x_range, n).astype(np.float32)
    ys = np.linspace(-0.1, 1.1, n).astype(np.float32)
    g = predict(models["gauss"], jnp.asarray(xs), "gauss")
    p = predict(models["mdn"], jnp.asarray(xs), "mdn", cfg.n_mix)
    cond = {x0: (density(models["mdn"], [x0], ys, cfg.n_mix)[:, 0],
                 np.exp(bishop.true_log_prob(np.full_like(ys, x0), ys))) for x0 in x0s}
    return {"xs": xs, "ys": ys, "y_hat": np.asarray(predict(models["mse"], jnp.asarray(xs), "mse")),
            "gauss_mu": np.asarray(g["mu"][:, 0]), "gauss_sigma": np.exp(np.asarray(g["log_sigma"][:, 0])),
            "density": density(models["mdn"], xs, ys, cfg.n_mix), "pi": np.exp(np.asarray(p["log_pi"])),
            "mu": np.asarray(p["mu"]), "conditional": cond}
