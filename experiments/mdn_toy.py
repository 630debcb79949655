"""Bishop's (1994) inverse problem: learn p(y | x) where x = y + 0.3 sin(2 pi y) + U(-0.1, 0.1), y ~ U(0, 1).

For x in about (0.3, 0.7) three different y give the same x, so the conditional is multimodal. A
least-squares regression net learns the conditional mean, which lies between the branches and fits none;
a single Gaussian (mean + learned sigma, i.e. an MDN with one component) does the same with a wide
sigma; a mixture density network (jaxseq.nn.mixtures 1-D GMM) recovers the branches. Reports test NLL in nats
per point (and the regression net's MSE and its Gaussian NLL with the residual variance of the training
set), next to the exact NLL of the true conditional, and plots everything.

    python experiments/mdn_toy.py --out docs/img
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.nn import mixtures as mdn
from jaxseq.training.loop import TrainConfig, fit
from jaxseq.models.vae.model import mlp_apply, mlp_init


@dataclasses.dataclass
class Config:
    n_train: int = 1000
    n_test: int = 5000
    hidden: int = 32
    n_mix: int = 5
    steps: int = 4000
    lr: float = 5e-3
    seed: int = 0
    out: str = "runs/mdn_toy"


def make_data(seed, n, noise=0.1):
    """x = y + 0.3 sin(2 pi y) + U(-noise, noise), y ~ U(0, 1). -> (x [n], y [n]) float32."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(0.0, 1.0, n)
    x = y + 0.3 * np.sin(2 * np.pi * y) + rng.uniform(-noise, noise, n)
    return x.astype(np.float32), y.astype(np.float32)


def true_log_prob(x, y, noise=0.1, grid=20001):
    """Exact log p(y | x) of the generating process (float64): p(y|x) = 1[|x - f(y)| < noise] / Z(x)
    with Z(x) = integral over y' in (0, 1) of the same indicator, by quadrature on a fine grid."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    yy = np.linspace(0.0, 1.0, grid)
    f = yy + 0.3 * np.sin(2 * np.pi * yy)
    z = (np.abs(x[:, None] - f[None, :]) < noise).mean(1)  # grid mean = integral over (0, 1)
    inside = np.abs(x - (y + 0.3 * np.sin(2 * np.pi * y))) < noise
    return np.where(inside, -np.log(np.maximum(z, 1e-300)), -np.inf)


def model_init(key, kind, cfg: Config):
    out = {"mse": 1, "gauss": mdn.gmm_size(1), "mdn": mdn.gmm_size(cfg.n_mix)}[kind]
    return mlp_init(key, [1, cfg.hidden, cfg.hidden, out])


def predict(params, x, kind, n_mix):
    """x: [N] -> y_hat [N] ('mse') or the mixture dict ('gauss' = one component, 'mdn')."""
    raw = mlp_apply(params, x[:, None], act=jnp.tanh)
    if kind == "mse":
        return raw[:, 0]
    if kind == "gauss":  # split_gmm wants [logit, mu, log_sigma] per component
        return mdn.split_gmm(raw, 1)
    return mdn.split_gmm(raw, n_mix)


def loss_fn(params, batch, key, *, kind, n_mix):
    out = predict(params, batch["x"], kind, n_mix)
    if kind == "mse":
        loss = ((out - batch["y"]) ** 2).mean()
    else:
        loss = -mdn.gmm_log_prob(out, batch["y"]).mean()
    return loss, {}


def train(kind, cfg: Config, x, y, progress=True):
    params = model_init(jax.random.PRNGKey(cfg.seed), kind, cfg)
    tcfg = TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.05,
                       clip_norm=0.0, seed=cfg.seed, log_every=max(cfg.steps // 10, 1),
                       progress=progress)
    batch = {"x": x, "y": y}  # full batch: the data set is tiny
    params, _ = fit(functools.partial(loss_fn, kind=kind, n_mix=cfg.n_mix), params,
                    lambda step: batch, tcfg, log=lambda s: None)
    return params


def evaluate(models, cfg, x_tr, y_tr, x, y):
    res = {}
    f = lambda p, xs: predict(p, jnp.asarray(xs), "mse", cfg.n_mix)
    mse_tr = float(((f(models["mse"], x_tr) - y_tr) ** 2).mean())
    err = np.asarray(f(models["mse"], x)) - y
    res["regression_mse"] = float((err ** 2).mean())
    # the least-squares net read as a Gaussian with the training residual variance
    res["regression_gauss_nll"] = float(0.5 * math.log(2 * math.pi * mse_tr) + (err ** 2).mean()
                                        / (2 * mse_tr))
    for kind in ("gauss", "mdn"):
        p = predict(models[kind], jnp.asarray(x), kind, cfg.n_mix)
        res[f"{kind}_nll"] = float(-mdn.gmm_log_prob(p, jnp.asarray(y)).mean())
    res["true_conditional_nll"] = float(-true_log_prob(x, y).mean())
    return res


def plot(models, cfg, x, y, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = np.linspace(x.min(), x.max(), 300).astype(np.float32)
    ys = np.linspace(-0.1, 1.1, 300).astype(np.float32)
    yhat = np.asarray(predict(models["mse"], jnp.asarray(xs), "mse", cfg.n_mix))
    g = predict(models["gauss"], jnp.asarray(xs), "gauss", cfg.n_mix)
    p = predict(models["mdn"], jnp.asarray(xs), "mdn", cfg.n_mix)
    dens = np.exp(np.asarray(jax.vmap(lambda yv: mdn.gmm_log_prob(p, jnp.full_like(xs, yv)))(ys)))

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.4))
    ax[0].scatter(x, y, s=2, c="0.6", label="data")
    ax[0].plot(xs, yhat, "r", lw=2, label="least-squares net")
    gm, gs = np.asarray(g["mu"][:, 0]), np.exp(np.asarray(g["log_sigma"][:, 0]))
    ax[0].plot(xs, gm, "b--", lw=2, label="Gaussian (1 comp.) mean")
    ax[0].fill_between(xs, gm - 2 * gs, gm + 2 * gs, color="b", alpha=0.1, label="± 2 sigma")
    ax[0].set(xlabel="x", ylabel="y", title="single-valued fits average the branches")
    ax[0].legend(fontsize=8, loc="upper left")
    ax[1].pcolormesh(xs, ys, np.minimum(dens, 8.0), shading="auto", cmap="viridis")
    ax[1].scatter(x, y, s=1, c="w", alpha=0.3)
    pis = np.exp(np.asarray(p["log_pi"]))
    for m in range(cfg.n_mix):
        keep = pis[:, m] > 0.05  # show a component only where it carries weight
        ax[1].scatter(xs[keep], np.asarray(p["mu"][keep, m]), s=3 + 12 * pis[keep, m], c="r")
    ax[1].set(xlabel="x", ylabel="y", ylim=(-0.1, 1.1),
              title=f"MDN p(y|x) ({cfg.n_mix} comp.); red: means, size = weight")
    for x0, c in ((0.5, "C0"), (0.3, "C1"), (0.8, "C2")):
        pp = predict(models["mdn"], jnp.full((1,), x0, jnp.float32), "mdn", cfg.n_mix)
        d = np.exp(np.asarray(jax.vmap(lambda yv: mdn.gmm_log_prob(pp, jnp.full((1,), yv)))(ys)))[:, 0]
        ax[2].plot(ys, d, c, label=f"MDN, x={x0}")
        t = np.exp(true_log_prob(np.full_like(ys, x0), ys))
        ax[2].plot(ys, t, c + ":", label=f"true, x={x0}")
    ax[2].set(xlabel="y", ylabel="p(y | x)", title="conditional densities (dotted: exact)")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=1000, help="training points")
    p.add_argument("--n-test", type=int, default=5000, help="test points (another seed)")
    p.add_argument("--hidden", type=int, default=32, help="width of the two tanh hidden layers")
    p.add_argument("--n-mix", type=int, default=5, help="MDN mixture components")
    p.add_argument("--steps", type=int, default=4000, help="full-batch Adam steps per model")
    p.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate (cosine-decayed)")
    p.add_argument("--seed", type=int, default=0, help="seed for data and init")
    p.add_argument("--out", default="runs/mdn_toy", help="folder for mdn_toy.png and results.json")
    a = p.parse_args(argv)
    cfg = Config(a.n_train, a.n_test, a.hidden, a.n_mix, a.steps, a.lr, a.seed, a.out)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr = make_data(cfg.seed, cfg.n_train)
    x_te, y_te = make_data(cfg.seed + 1000, cfg.n_test)
    models = {k: train(k, cfg, x_tr, y_tr) for k in ("mse", "gauss", "mdn")}
    res = evaluate(models, cfg, x_tr, y_tr, x_te, y_te)
    res["config"] = dataclasses.asdict(cfg)
    print(json.dumps(res, indent=1))
    (out / "results.json").write_text(json.dumps(res, indent=1))
    plot(models, cfg, x_te[:1500], y_te[:1500], out / "mdn_toy.png")
    print("wrote", out / "mdn_toy.png")
    return res


if __name__ == "__main__":
    from _cli import run
    run(main)
