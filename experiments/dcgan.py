"""DCGAN (Radford et al. 2016, the PyTorch DCGAN tutorial) on Fashion-MNIST padded to 32x32 in [-1, 1].
The seed project trained on 64x64 CelebA, which is not available here (--data celeba --size 64 reads the
official img_align_celeba.zip + list_eval_partition.txt from <data dir>/celeba/ where you have them).
Strided convolutions, batch norm, LeakyReLU(0.2) discriminator; ConvTranspose + batch norm + ReLU generator
with a tanh output; N(0, 0.02) init; Adam 2e-4, beta1 0.5; a fixed noise batch saved as a grid every
--sample-every steps (<run>/fixed/) and drawn as a progression figure at the end.

    python experiments/dcgan.py train --time-budget 5                    # resumable: run again to go on
    python experiments/dcgan.py sample --n 64 --out samples/dcgan.png    # the shipped ckpt/dcgan/fashion-mnist
    python experiments/dcgan.py export --ckpt runs/dcgan/fashion-mnist --out ckpt/dcgan/fashion-mnist
    python experiments/dcgan.py fd --ckpt fashion-mnist --n 10000        # Fréchet distance vs the test set

Data: <data dir>/fashion-mnist/*-ubyte.gz (--data-dir, else $JAXSEQ_DATA, else ~/.cache/jaxseq).
From Python: ``from jaxseq import dcgan; dcgan.sample(16, seed=0)``.
"""
from __future__ import annotations

import os

# Grow GPU memory on demand instead of grabbing 75% of it: other jobs may share the GPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import json
from pathlib import Path

from _cli import (add_config_flags, add_time_budget, config_from_args, out_path, parser, run, subparsers,
                  time_budget_s)
from jaxseq import dcgan
from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.models.dcgan import shared

HELP = {"data": "fashion-mnist (28x28 padded to 32) or celeba (RGB, from the official zip; not here)",
        "size": "image side, a power of two (fashion-mnist 32; celeba 64)", "nz": "latent size",
        "ngf": "generator feature maps", "ndf": "discriminator feature maps",
        "steps": "steps, one D and one G update each (469 per epoch at batch 128)",
        "batch_size": "images per step", "lr": "Adam learning rate (both networks)", "beta1": "Adam beta1",
        "seed": "seed of init, batch order and noise", "n_fixed": "size of the fixed noise batch",
        "sample_every": "fixed-noise grid every N steps (0: first and last only)",
        "log_every": "history row every N steps"}


def add_train(sub, cfg_cls, help_text, fn):
    t = sub.add_parser("train", help=help_text)
    add_config_flags(t, cfg_cls, help=HELP, choices={"data": sorted(shared.DATA)})
    t.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    t.add_argument("--ckpt-dir", default=None, help="run directory (default runs/<model>/<data>; an "
                   "existing run resumes)")
    t.add_argument("--limit", type=int, default=None, help="train on the first N images only (smoke tests)")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    add_time_budget(t)
    t.set_defaults(fn=fn)
    return t


def finish_run(run_dir, name, hist, images):
    """The progression figure and a grid of the last fixed-noise images; the JSON summary printed."""
    run_dir = Path(run_dir)
    steps = shared.progression(run_dir, run_dir / "progression.png", title=f"{name}: fixed noise over training")
    last = hist[-1] if hist else {}
    res = {"run": str(run_dir), "step": hist.step, "stopped": hist.stopped, "snapshots": steps,
           **{k: v for k, v in last.items() if k != "step"}, "n_train": int(len(images))}
    print(json.dumps(res, indent=1))
    return res


def cmd_train(a):
    cfg = config_from_args(dcgan.DCGANTrainConfig, a)
    budget = time_budget_s(a)
    run_dir = check_output_dir(a.ckpt_dir or f"runs/dcgan/{cfg.data}")
    images = shared.load_images(cfg.data, cfg.size, "train", a.data_dir, limit=a.limit)
    _, hist = dcgan.train(cfg, images, run_dir, time_budget_s=budget, progress=a.progress)
    finish_run(run_dir, "DCGAN", hist, images)


def add_sample_export_fd(sub, load, default_ckpt, keys, train_mode=True):
    """The ``sample``, ``export`` and ``fd`` sub-commands (BEGAN's script uses them too)."""
    s = sub.add_parser("sample", help="a PNG grid (and optionally .npy) of generated images")
    s.add_argument("--ckpt", default=default_ckpt, required=default_ckpt is None,
                   help="shipped name or checkpoint directory (a run or an export)")
    s.add_argument("--n", type=int, default=64, help="images")
    s.add_argument("--seed", type=int, default=0, help="noise seed")
    s.add_argument("--cols", type=int, default=8, help="grid columns")
    s.add_argument("--out", default="samples/generated.png", help="PNG grid")
    s.add_argument("--npy", default=None, help="also save the images (float32 [N, H, W, C] in [0, 1])")
    x = sub.add_parser("export", help="a sampling-only copy of the generator (for shipping)")
    x.add_argument("--ckpt", required=True, help="training run directory")
    x.add_argument("--out", required=True, help="destination directory (must not hold a checkpoint)")
    x.add_argument("--step", type=int, default=None, help="step to export (default: the latest)")
    x.add_argument("--dtype", default="bfloat16", choices=["float32", "float16", "bfloat16"],
                   help="stored weight type (sampling computes in float32)")
    f = sub.add_parser("fd", help="Fréchet distance of N samples to the Fashion-MNIST test set "
                                  "(jaxseq.models.cnn.frechet features)")
    f.add_argument("--ckpt", default=default_ckpt, required=default_ckpt is None,
                   help="shipped name or checkpoint directory")
    f.add_argument("--n", type=int, default=10000, help="samples (the test set has 10,000 images)")
    f.add_argument("--seed", type=int, default=0, help="noise seed")
    f.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    f.add_argument("--out", default=None, help="also write the result JSON here")
    for p in (s, f):
        if train_mode:
            p.add_argument("--train-mode", action="store_true",
                           help="batch norm with each batch's own statistics instead of the running ones")
        p.set_defaults(load=load, train_mode=False)
    s.set_defaults(fn=cmd_sample)
    x.set_defaults(fn=lambda a: cmd_export(a, keys))
    f.set_defaults(fn=cmd_fd)


def _samples(a):
    if a.n < 1:
        raise ValueError(f"--n {a.n}: give at least 1")
    gen = a.load(a.ckpt)
    kw = {"train_mode": True} if a.train_mode else {}
    return gen, gen.sample(a.n, a.seed, **kw)


def cmd_sample(a):
    from jaxseq.viz.images import save_grid
    dest = out_path(a.out)
    npy = out_path(a.npy, "--npy") if a.npy else None
    _, images = _samples(a)
    save_grid(dest, images, ncols=a.cols)
    if npy:
        import numpy as np
        write_atomic(npy, lambda f: np.save(f, images))
    print(f"wrote {len(images)} images to {dest}" + (f" and {npy}" if npy else ""))


def cmd_export(a, keys):
    step, size = shared.export_generator(a.ckpt, a.out, keys, a.dtype, a.step)
    print(f"exported the generator of step {step} of {a.ckpt} to {a.out} ({a.dtype}, {size / 1e6:.2f} MB)")


def cmd_fd(a):
    from jaxseq.models.cnn import frechet
    from jaxseq.data import images as im
    dest = out_path(a.out) if a.out else None
    gen, images = _samples(a)
    test = im.to_unit(shared.load_images("fashion-mnist", 28, "test", a.data_dir))
    fd = frechet.frechet_distance(frechet.features(images), frechet.features(test))
    res = {"checkpoint": str(a.ckpt), "step": gen.meta.get("step"), "n_samples": int(len(images)),
           "n_test": int(len(test)), "seed": a.seed, "train_mode": bool(a.train_mode), "fd": float(fd),
           "fd_reference_train_vs_test": float(frechet.reference("test"))}
    print(json.dumps(res, indent=1))
    if dest:
        write_atomic(dest, json.dumps(res, indent=1))


def build_parser():
    ap = parser(__doc__)
    sub = subparsers(ap)
    add_train(sub, dcgan.DCGANTrainConfig, "train (or resume); fixed-noise grids and a progression figure",
              cmd_train)
    add_sample_export_fd(sub, dcgan.load, dcgan.DEFAULT_CHECKPOINT, ("g", "g_bn"))
    return ap


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.fn(a)


if __name__ == "__main__":
    run(main)
