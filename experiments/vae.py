"""Train an MLP VAE (or, with --conditional, a CVAE) on Fashion-MNIST or MNIST; report the test ELBO and an
importance-weighted NLL estimate; plot reconstructions, samples, per-class samples (CVAE) and the 2-D latent
manifold (--z-dim 2).

    python experiments/vae.py --data fashion-mnist --epochs 20 --out runs/vae_fmnist
    python experiments/vae.py --data fashion-mnist --conditional --epochs 20 --out runs/cvae_fmnist

Re-running with the same --out resumes (or, when finished, only evaluates and plots) from its checkpoint.
Likelihoods are in nats on binarised images: training draws x ~ Bernoulli(intensity) each step; the test
set is binarised once with a fixed seed, so every run scores the same binary images.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import mnist as idx
from jaxseq.models.vae import model as vae
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.errors import DataError
from jaxseq.data.batching import batch_indices, split_indices
from jaxseq.training.loop import TrainConfig, fit


@dataclasses.dataclass
class Config:
    data: str = "fashion-mnist"
    data_dir: str | None = None
    t10k_split: float = 0.0
    conditional: bool = False
    hidden: tuple = (512, 256)
    z_dim: int = 20
    epochs: float = 20.0
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    iw_k: int = 1000
    eval_n: int = 0
    out: str = "runs/vae"


def parse(argv=None) -> Config:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=sorted(idx.SETS), default="fashion-mnist",
                   help="data set (IDX files under <data-dir>/<name>/)")
    p.add_argument("--data-dir", default=None,
                   help="data root (default: $JAXSEQ_DATA, then ~/.cache/jaxseq; Fashion-MNIST also "
                        "/usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist)")
    p.add_argument("--t10k-split", type=float, default=0.0,
                   help="if > 0: train on this fraction of the 10k TEST images and score the rest "
                        "(a labelled fallback for MNIST here, where only t10k exists; not comparable "
                        "with published numbers)")
    p.add_argument("--conditional", action="store_true", help="train a CVAE conditioned on the class")
    p.add_argument("--hidden", default="512,256", help="encoder hidden sizes (decoder mirrors them)")
    p.add_argument("--z-dim", type=int, default=20, help="latent size (2 also plots the manifold)")
    p.add_argument("--epochs", type=float, default=20.0, help="training epochs (may be fractional)")
    p.add_argument("--batch-size", type=int, default=128, help="training batch size")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (cosine-decayed)")
    p.add_argument("--seed", type=int, default=0, help="seed for init, batches and binarisation")
    p.add_argument("--iw-k", type=int, default=1000,
                   help="importance samples per test image for the IW-NLL estimate (multiple of 100)")
    p.add_argument("--eval-n", type=int, default=0, help="score only the first N test images (0: all)")
    p.add_argument("--out", default="runs/vae", help="output folder: checkpoint, plots, results.json")
    a = p.parse_args(argv)
    hidden = tuple(int(h) for h in a.hidden.split(",") if h)
    return Config(a.data, a.data_dir, a.t10k_split, a.conditional, hidden, a.z_dim, a.epochs,
                  a.batch_size, a.lr, a.seed, a.iw_k, a.eval_n, a.out)


def load(cfg: Config):
    """-> (train_x uint8 [N,784], train_y, test_x, test_y, split description)."""
    if cfg.t10k_split > 0:
        x, y = idx.load_images(cfg.data, "test", cfg.data_dir)
        tr, te = split_indices(len(x), [cfg.t10k_split, 1 - cfg.t10k_split], seed=cfg.seed)
        desc = (f"{cfg.data} t10k split: train on {len(tr)} test images, score the other {len(te)} "
                f"(NOT the standard split)")
        return x[tr].reshape(len(tr), -1), y[tr], x[te].reshape(len(te), -1), y[te], desc
    if not idx.has_split(cfg.data, "train", cfg.data_dir):
        raise DataError(f"{cfg.data}: the training files (train-images-idx3-ubyte[.gz], "
                        f"train-labels-idx1-ubyte[.gz]) are missing (looked in "
                        f"{', '.join(str(d) for d in idx._candidates(cfg.data, cfg.data_dir))}). "
                        f"{idx.SETS[cfg.data][1]}; or pass --t10k-split 0.8 to train on part of the test "
                        f"set (a clearly non-standard split).")
    xtr, ytr = idx.load_images(cfg.data, "train", cfg.data_dir)
    xte, yte = idx.load_images(cfg.data, "test", cfg.data_dir)
    return (xtr.reshape(len(xtr), -1), ytr, xte.reshape(len(xte), -1), yte,
            f"{cfg.data} standard split: {len(xtr)} train / {len(xte)} test")


def make_evaluator(cfg, n_classes, test_xb, test_y, bs=500):
    @jax.jit
    def score(params, x, y, key):
        ke, ki = jax.random.split(key)
        yy = y if n_classes else None
        e = vae.elbo(params, x, ke, yy, n_classes=n_classes)["elbo"]
        iw = vae.iwae_bound(params, x, ki, cfg.iw_k, yy, n_classes=n_classes)
        return e.sum(), iw.sum()

    def evaluate(params, key):
        n = (len(test_xb) // bs) * bs
        tot_e = tot_iw = 0.0
        for i in range(0, n, bs):
            e, iw = score(params, jnp.asarray(test_xb[i:i + bs]), jnp.asarray(test_y[i:i + bs]),
                          jax.random.fold_in(key, i))
            tot_e, tot_iw = tot_e + float(e), tot_iw + float(iw)
        return {"test_elbo": tot_e / n, "test_iw_nll": -tot_iw / n, "n_scored": n}
    return evaluate


def grid(imgs, rows, cols):
    imgs = np.asarray(imgs).reshape(rows, cols, 28, 28)
    return imgs.transpose(0, 2, 1, 3).reshape(rows * 28, cols * 28)


def plots(cfg, params, n_classes, test_x, test_xb, test_y, out: Path, prefix: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(img, title, name, size=(6, 6)):
        fig = plt.figure(figsize=size)
        plt.imshow(img, cmap="gray_r", vmin=0, vmax=1)
        plt.axis("off")
        plt.title(title, fontsize=9)
        fig.savefig(out / f"{prefix}_{name}.png", dpi=80, bbox_inches="tight")
        plt.close(fig)
        return out / f"{prefix}_{name}.png"

    files = []
    key = jax.random.PRNGKey(cfg.seed + 1)
    kw = dict(n_classes=n_classes)
    x = jnp.asarray(test_xb[:16])
    y = jnp.asarray(test_y[:16]) if n_classes else None
    mu, _ = vae.encode(params, x, y, **kw)
    rec = jax.nn.sigmoid(vae.decode(params, mu, y, **kw))
    rows = np.concatenate([test_x[:16] / 255.0, np.asarray(x), np.asarray(rec)])
    files.append(save(grid(rows, 3, 16), "rows: test image, its binarisation, reconstruction (mean of "
                      "p(x|z=mu))", "recon", (10, 2.4)))
    yy = jnp.repeat(jnp.arange(10), 10) if n_classes else None
    s = vae.sample(params, key, 100, yy, z_dim=cfg.z_dim, **kw)
    files.append(save(grid(s, 10, 10), "samples (Bernoulli means), z ~ N(0, I)" +
                      ("; row = class" if n_classes else ""), "samples"))
    if cfg.z_dim == 2:
        q = jax.scipy.special.ndtri(jnp.linspace(0.03, 0.97, 15))
        zz = jnp.stack(jnp.meshgrid(q, -q), -1).reshape(-1, 2)
        ym = jnp.zeros((225,), jnp.int32) if n_classes else None
        m = jax.nn.sigmoid(vae.decode(params, zz, ym, **kw))
        files.append(save(grid(m, 15, 15), "2-D latent manifold (normal quantiles)" +
                          (", class 0" if n_classes else ""), "manifold"))
    return files


def main(argv=None):
    cfg = parse(argv)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        xtr, ytr, xte, yte, desc = load(cfg)
    except DataError as e:
        sys.exit(f"error: {e}")
    print(desc)
    n_classes = 10 if cfg.conditional else 0
    vcfg = vae.VAEConfig(xtr.shape[1], cfg.hidden, cfg.z_dim, n_classes)
    params = vae.init(jax.random.PRNGKey(cfg.seed), vcfg)
    steps = int(cfg.epochs * len(xtr) / cfg.batch_size)
    tcfg = TrainConfig(steps=steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.1, clip_norm=0.0,
                       seed=cfg.seed, log_every=200)
    xtr_f = xtr.astype(np.float32) / 255.0

    def batch_fn(step):
        i = batch_indices(step, len(xtr), cfg.batch_size, cfg.seed)
        return {"x": xtr_f[i], "y": ytr[i]}

    rng = np.random.default_rng(cfg.seed + 12345)  # fixed binarisation of the test set
    test_xb = (rng.random(xte.shape) < xte / 255.0).astype(np.float32)
    if cfg.eval_n:
        xte, test_xb, yte = xte[:cfg.eval_n], test_xb[:cfg.eval_n], yte[:cfg.eval_n]
    ckpt = Checkpointer(out / "ckpt", keep=1)
    meta = {"config": dataclasses.asdict(cfg), "vae": dataclasses.asdict(vcfg), "split": desc}
    t0 = time.time()
    if ckpt.latest_step() == steps:  # finished before: evaluate and plot only
        params, _, _ = ckpt.restore(steps, params_like=params)
        hist = []
        print(f"restored the finished checkpoint {ckpt.directory} (step {steps}); evaluating only")
    else:
        params, hist = fit(functools.partial(vae.loss_fn, n_classes=n_classes), params, batch_fn, tcfg,
                           ckpt=ckpt, meta=meta)
    train_s = time.time() - t0
    t0 = time.time()
    res = make_evaluator(cfg, n_classes, test_xb, yte)(params, jax.random.PRNGKey(cfg.seed + 7))
    res.update(eval_s=round(time.time() - t0, 1), train_s=round(train_s, 1), steps=steps,
               split=desc, iw_k=cfg.iw_k, model="CVAE" if n_classes else "VAE",
               final_train_loss=next((h["loss"] for h in reversed(hist) if "loss" in h), None))
    print(json.dumps(res, indent=1))
    (out / "results.json").write_text(json.dumps(res, indent=1))
    prefix = f"vae_{cfg.data.replace('-', '')}{'_cvae' if n_classes else ''}_z{cfg.z_dim}"
    for f in plots(cfg, params, n_classes, xte, test_xb, yte, out, prefix):
        print("wrote", f)


if __name__ == "__main__":
    from _cli import run
    run(main)
