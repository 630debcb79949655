"""Train an MLP VAE (or, with --conditional, a CVAE) on Fashion-MNIST or MNIST; report the test ELBO and an
importance-weighted NLL estimate; plot reconstructions, samples, per-class samples (CVAE) and the 2-D latent
manifold (--z-dim 2).

    python experiments/vae.py --data fashion-mnist --epochs 20 --out runs/vae_fmnist
    python experiments/vae.py --data fashion-mnist --conditional --epochs 20 --out runs/cvae_fmnist

Re-running with the same --out resumes (or, when finished, only evaluates and plots) from its checkpoint
in <out>/ckpt, which jaxseq.vae.load(...) also reads. Likelihoods are in nats on binarised images:
training draws x ~ Bernoulli(intensity) each step; the test set is binarised once with a fixed seed, so
every run scores the same binary images.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from _cli import add_config_flags, add_time_budget, config_from_args, fail, parser, run, time_budget_s

from jaxseq import vae
from jaxseq.data import mnist
from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.paths import as_path, is_remote
from jaxseq.training.loop import is_main_process

HELP = {"data": "data set (IDX files under <data-dir>/<name>/)",
        "t10k_split": "if > 0: train on this fraction of the 10k TEST images and score the rest (a "
                      "labelled fallback for MNIST here, where only t10k exists; not comparable with "
                      "published numbers)",
        "conditional": "train a CVAE conditioned on the class",
        "z_dim": "latent size (2 also plots the manifold)", "epochs": "training epochs (may be fractional)",
        "batch_size": "training batch size", "lr": "Adam learning rate (cosine-decayed)",
        "iw_k": "importance samples per test image for the IW-NLL estimate (multiple of 100)",
        "eval_n": "score only the first N test images (0: all)",
        "seed": "seed for init, batches and binarisation"}


def parse(argv):
    p = parser(__doc__)
    p.add_argument("--data-dir", default=None,
                   help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq; Fashion-MNIST also "
                        "/usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist)")
    add_config_flags(p, vae.VAETrainConfig, skip=("hidden",), help=HELP, choices={"data": sorted(mnist.SETS)})
    p.add_argument("--hidden", default=",".join(map(str, vae.VAETrainConfig.hidden)),
                   help="encoder hidden sizes, comma-separated (the decoder mirrors them)")
    p.add_argument("--out", default="runs/vae", help="output folder: checkpoint, plots, results.json")
    add_time_budget(p)
    a = p.parse_args(argv)
    try:
        hidden = tuple(int(h) for h in a.hidden.split(",") if h)
    except ValueError:
        fail(f"--hidden {a.hidden!r}: give comma-separated integers such as 512,256")
    return a, config_from_args(vae.VAETrainConfig, a, hidden=hidden)


def plots(cfg, m: vae.VAE, test_x, test_xb, test_y, out: Path, prefix: str):
    from jaxseq.viz.vae import save_image_grid
    y = test_y[:16] if m.conditional else None
    rows = np.concatenate([test_x[:16] / 255.0, test_xb[:16], m.reconstruct(test_xb[:16], y)])
    yield save_image_grid(out / f"{prefix}_recon.png", rows, 16, "rows: test image, its binarisation, "
                          "reconstruction (mean of p(x|z=mu))", size=(10, 2.4))
    labels = np.repeat(np.arange(10), 10) if m.conditional else None
    yield save_image_grid(out / f"{prefix}_samples.png", m.sample(100, labels, seed=cfg.seed + 1), 10,
                          "samples (Bernoulli means), z ~ N(0, I)" + ("; row = class" if labels is not None
                                                                      else ""))
    if cfg.z_dim == 2:
        yield save_image_grid(out / f"{prefix}_manifold.png", m.manifold(15, label=0), 15,
                              "2-D latent manifold (normal quantiles)" + (", class 0" if m.conditional
                                                                           else ""))


def main(argv=None):
    a, cfg = parse(argv)
    budget = time_budget_s(a)
    out = as_path(a.out)            # gs://bucket/run stays a URI (an error now if gcsfs is missing)
    if not is_remote(out):
        check_output_dir(out)       # before any work
    xtr, ytr, xte, yte, desc = mnist.load_split(cfg.data, a.data_dir, cfg.t10k_split, cfg.seed)
    print(desc)
    t0 = time.time()
    params, hist, done, steps = vae.train(cfg, xtr, ytr, out / "ckpt", meta={"split": desc},
                                          time_budget_s=budget)
    train_s = time.time() - t0
    if not is_main_process():   # scoring and plots below are local: process 0 alone writes the files
        return
    if done < steps:
        why = "preempted" if hist.stopped == "preempted" else "time budget"
        print(f"stopped at step {done} of {steps} ({why}); run the same command again to continue")
        return
    m = vae.VAE(params, vae.model_config(cfg, xtr.shape[1]))
    test_xb = vae.fixed_binarization(xte, cfg.seed)
    if cfg.eval_n:
        xte, test_xb, yte = xte[:cfg.eval_n], test_xb[:cfg.eval_n], yte[:cfg.eval_n]
    t0 = time.time()
    res = m.score(test_xb, yte if m.conditional else None, cfg.iw_k, seed=cfg.seed + 7)
    res.update(eval_s=round(time.time() - t0, 1), train_s=round(train_s, 1), steps=steps,
               split=desc, iw_k=cfg.iw_k, model="CVAE" if m.conditional else "VAE",
               final_train_loss=next((h["loss"] for h in reversed(hist) if "loss" in h), None))
    print(json.dumps(res, indent=1))
    write_atomic(out / "results.json", json.dumps(res, indent=1))
    prefix = f"vae_{cfg.data.replace('-', '')}{'_cvae' if m.conditional else ''}_z{cfg.z_dim}"
    for f in plots(cfg, m, xte, test_xb, yte, out, prefix):
        print("wrote", f)


if __name__ == "__main__":
    run(main)
