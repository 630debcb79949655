"""Spatial transformer network (PyTorch's STN tutorial): a localisation net regresses an affine map, the
image is resampled under it, and the CNN classifier reads the result. Trained on digits under random
affine distortions (rotation, zoom, shift: see the flags); --no-stn trains the same CNN alone, with the
same data, budget and distorted test set, for the comparison.

    python experiments/stn.py train --out runs/stn/mnist_stn                   # MNIST t10k 8k/2k split
    python experiments/stn.py train --no-stn --out runs/stn/mnist_cnn
    python experiments/stn.py eval --ckpt runs/stn/mnist_stn/ckpt --ckpt runs/stn/mnist_cnn/ckpt
    python experiments/stn.py eval --ckpt mnist --out runs/stn/shipped          # the shipped model
    python experiments/stn.py export --ckpt runs/stn/mnist_stn/ckpt --out ckpt/stn/mnist --dtype bfloat16

MNIST: only its 10k test set is here, so the default trains on a seeded 8,000 of it and scores the other
2,000 (labelled non-standard). --data fashion-mnist --t10k-split 0 uses the standard 60k/10k split.
Re-running train with the same --out resumes (or, when finished, only scores and plots). From Python:
``from jaxseq import stn; stn.load().predict(x)``.
"""
from __future__ import annotations

import os

# Grow GPU memory on demand instead of grabbing 75% of it: other jobs may share the GPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import json
import time
from pathlib import Path

import numpy as np
from _cli import add_config_flags, add_export, add_time_budget, config_from_args, parser, run, subparsers
from _cli import time_budget_s

from jaxseq.data import images, mnist
from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.models import stn
from jaxseq.nn.warp import IDENTITY
from jaxseq.training.checkpoint import write_history
from jaxseq.training.loop import is_main_process

HELP = {"data": "data set (IDX files under <data-dir>/<name>/)",
        "t10k_split": "if > 0: train on this fraction of the 10k TEST images and score the rest (MNIST "
                      "here has only t10k; not comparable with published numbers); 0: standard split",
        "split_seed": "seed of the t10k split", "stn": "put the spatial transformer in front of the CNN",
        "rotation": "distortion: max rotation (degrees)", "scale_min": "distortion: smallest zoom",
        "scale_max": "distortion: largest zoom", "shift": "distortion: max shift (pixels, each axis)",
        "test_seed": "seed of the one fixed distortion of the test images",
        "epochs": "training epochs (may be fractional)", "batch_size": "training batch size",
        "lr": "Adam learning rate (cosine-decayed to a tenth)", "dropout": "CNN dropout",
        "seed": "init, batches, training distortions, dropout",
        "eval_every": "steps between test-set scores (a curve only; no step is selected on it)"}
N_SHOW = 16      # digits in the warp figure


def add_data_flag(p):
    p.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")


def load_data(cfg, data_dir):
    xtr, ytr, xte, yte, desc = mnist.load_split(cfg.data, data_dir, cfg.t10k_split, cfg.split_seed)
    print(desc)
    return xtr, ytr, xte, yte, desc


def score(m, cfg, xte, yte, desc):
    """Accuracy on the distorted test set (the comparison) and on the clean one; also returns the
    distorted images and the first 500 warps (for the figure)."""
    t0 = time.time()
    xd = stn.distorted_test_set(cfg, xte)
    dist, clean = m.score(xd, yte), m.score(xte, yte)
    warped, theta = m.warp(xd[:500])
    res = {"model": "STN + CNN" if m.has_stn else "CNN", "data": desc, "distortion": cfg.distortion(),
           "test_seed": cfg.test_seed, "test_acc": dist["acc"], "test_loss": dist["loss"],
           "clean_test_acc": clean["acc"], "n_test": dist["n"],
           "mean_abs_theta_minus_identity": float(np.abs(theta - np.asarray(IDENTITY)).mean()),
           "eval_s": round(time.time() - t0, 1)}
    return res, xd, warped


def report(m, cfg, xte, yte, desc, out: Path, prefix):
    res, xd, warped = score(m, cfg, xte, yte, desc)
    print(f"{res['model']}: distorted test accuracy {res['test_acc']:.4f} (loss {res['test_loss']:.4f}), "
          f"clean test accuracy {res['clean_test_acc']:.4f}, {res['n_test']} images")
    if m.has_stn and out is not None:
        from jaxseq.models.stn import figures
        title = f"{cfg.data}: the STN's warp of distorted test images (test accuracy {res['test_acc']:.3f})"
        clean = images.to_unit(images.to_nhwc(xte[:N_SHOW]))
        print("wrote", figures.warp_rows(out / f"{prefix}_warp.png", clean, xd[:N_SHOW], warped[:N_SHOW],
                                         title))
        print("wrote", figures.warp_grids(out / f"{prefix}_grids.png", xd[:64], warped[:64], title))
    return res


# --------------------------------------------------------------------------------------------- train
def cmd_train(a):
    cfg = config_from_args(stn.STNTrainConfig, a)
    budget = time_budget_s(a)
    out = check_output_dir(a.out)
    xtr, ytr, xte, yte, desc = load_data(cfg, a.data_dir)
    t0 = time.time()
    params, hist, done, steps = stn.train(cfg, xtr, ytr, xte, yte, out / "ckpt", meta={"split": desc},
                                          time_budget_s=budget)
    train_s = time.time() - t0
    if not is_main_process():
        return
    write_history(out, hist)
    if done < steps:
        why = "preempted" if hist.stopped == "preempted" else "time budget"
        print(f"stopped at step {done} of {steps} ({why}); run the same command again to continue")
        if hist.stopped == "preempted":   # a preempted machine has seconds left: no scoring
            return
    m = stn.STN(params, stn.model_config(cfg), {"config": vars(cfg)})
    prefix = f"stn_{cfg.data.replace('-', '')}" + ("" if cfg.stn else "_nostn")
    res = report(m, cfg, xte, yte, desc, out, prefix)   # a run cut by the budget is scored as it stands
    res.update(steps=steps, steps_done=done, finished=done >= steps, train_s=round(train_s, 1),
               config=vars(cfg), final_train_loss=next((h["loss"] for h in reversed(hist) if "loss" in h),
                                                       None))
    write_atomic(out / "results.json", json.dumps(res, indent=1))
    print("wrote", out / "results.json")


# ---------------------------------------------------------------------------------------------- eval
def cmd_eval(a):
    out = check_output_dir(a.out) if a.out else None
    models = [stn.load(c) for c in a.ckpt]        # every checkpoint is read before the data
    results, data = {}, {}
    for c, m in zip(a.ckpt, models):
        cfg = stn.STNTrainConfig(**m.meta["config"])
        key = (cfg.data, cfg.t10k_split, cfg.split_seed)
        if key not in data:
            data[key] = load_data(cfg, a.data_dir)
        _, _, xte, yte, desc = data[key]
        label = Path(str(c)).parent.name if Path(str(c)).name == "ckpt" else Path(str(c)).name
        prefix = f"stn_{cfg.data.replace('-', '')}_{label}"
        print(f"{label}:", end=" ")
        results[label] = report(m, cfg, xte, yte, desc, out, prefix)
    if out:
        write_atomic(out / "results.json", json.dumps(results, indent=1))
        print("wrote", out / "results.json")


def build_parser():
    ap = parser(__doc__)
    sub = subparsers(ap)
    t = sub.add_parser("train", help="train (resumes from --out), then score and plot")
    add_config_flags(t, stn.STNTrainConfig, help=HELP, choices={"data": sorted(mnist.SETS)})
    add_data_flag(t)
    t.add_argument("--out", default="runs/stn/mnist", help="run folder: ckpt/, results.json, history.json, "
                   "the warp figure")
    add_time_budget(t)
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("eval", help="distorted and clean test accuracy of checkpoints (and warp figures)")
    e.add_argument("--ckpt", action="append", required=True,
                   help="shipped name (mnist) or checkpoint folder; repeat to compare")
    e.add_argument("--out", default=None, help="folder for results.json and the warp figures")
    add_data_flag(e)
    e.set_defaults(fn=cmd_eval)

    add_export(sub, default_pick="latest")
    return ap


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.fn(a)


if __name__ == "__main__":
    run(main)
