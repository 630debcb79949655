"""BEGAN (Berthelot et al. 2017) on Fashion-MNIST padded to 32x32 in [-1, 1]: an autoencoder
discriminator with the pixel-wise L1 reconstruction loss, the k_t equilibrium control (--lambda-k) towards
the diversity ratio --gamma, and the convergence measure M_global = L(x) + |gamma L(x) - L(G(z))| drawn
over training (<run>/convergence.png). The fixed noise batch is saved every --sample-every steps
(<run>/fixed/) and drawn as a progression figure (<run>/progression.png). CelebA (the paper's data) is
not available here; --data celeba reads the official zip where you have it.

    python experiments/began.py train --time-budget 5 --gamma 0.5         # resumable
    python experiments/began.py sample --ckpt runs/began/fashion-mnist --out samples/began.png
    python experiments/began.py export --ckpt runs/began/fashion-mnist --out runs/began_gen
    python experiments/began.py fd --ckpt runs/began_gen --n 10000

The sample/export/fd sub-commands are experiments/dcgan.py's. Data: <data dir>/fashion-mnist/*-ubyte.gz
(--data-dir, else $JAXSEQ_DATA, else ~/.cache/jaxseq).
"""
from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

from _cli import config_from_args, parser, run, subparsers, time_budget_s
from dcgan import HELP, add_sample_export_fd, add_train, finish_run
from jaxseq import began
from jaxseq.data.files import check_output_dir
from jaxseq.models.dcgan import shared

HELP = {**HELP, "h": "embedding and noise size", "n": "conv filters (the encoder adds n per scale)",
        "gamma": "diversity ratio E[L(G(z))] / E[L(x)] (the paper's 0.5 collapsed on Fashion-MNIST; 0.7-0.9 "
                 "did not: docs/results_images.md)", "lambda_k": "learning rate of k_t",
        "lr_halve_every": "halve the learning rate every N steps (0: constant)",
        "steps": "steps, one simultaneous D and G update each (938 per epoch at batch 64)"}


def cmd_train(a):
    cfg = config_from_args(began.BEGANTrainConfig, a)
    budget = time_budget_s(a)
    run_dir = check_output_dir(a.ckpt_dir or f"runs/began/{cfg.data}")
    images = shared.load_images(cfg.data, cfg.size, "train", a.data_dir, limit=a.limit)
    _, hist = began.train(cfg, images, run_dir, time_budget_s=budget, progress=a.progress)
    import json
    rows = json.loads((run_dir / "history.json").read_text())
    began.plot_convergence(rows, run_dir / "convergence.png", gamma=cfg.gamma)
    finish_run(run_dir, "BEGAN", hist, images)


def build_parser():
    ap = parser(__doc__)
    sub = subparsers(ap)
    train = add_train(sub, began.BEGANTrainConfig, "train (or resume); fixed-noise grids, progression "
                      "and M_global figures", cmd_train)
    for action in train._actions:   # BEGAN's own help texts
        if action.dest in HELP:
            action.help = HELP[action.dest]
    add_sample_export_fd(sub, began.load, None, ("g",), train_mode=False)
    return ap


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.fn(a)


if __name__ == "__main__":
    run(main)
