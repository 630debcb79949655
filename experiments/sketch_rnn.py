"""Sketch-RNN (Ha & Eck 2017): train, evaluate and sample conditional / unconditional models.

    python experiments/sketch_rnn.py train --data sheep --steps 20000 --ckpt-dir runs/sketch_rnn/sheep
    python experiments/sketch_rnn.py eval --ckpt runs/sketch_rnn/sheep --data-dir ../shared/data
    python experiments/sketch_rnn.py sample --ckpt ckpt/sketch_rnn/sheep --n 16 --out out/sheep.png
    python experiments/sketch_rnn.py sample --ckpt sheep --reconstruct --out out/rec.png
    python experiments/sketch_rnn.py sample --ckpt sheep --interpolate --out out/int.svg
    python experiments/sketch_rnn.py export --ckpt runs/sketch_rnn/sheep --out ckpt/sketch_rnn/sheep
    python experiments/sketch_rnn.py prep --data kanji --out .devcarry/sketch-rnn/kanji.npz

From Python: ``from jaxseq import sketch_rnn; sketch_rnn.load("sheep").sample(16)``.
"""
from __future__ import annotations

import os

# Grow GPU memory on demand instead of grabbing 75% of it: other jobs may share the GPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import json

import numpy as np

from _cli import (add_config_flags, add_export, add_time_budget, config_from_args, fail, out_path, parser,
                  run, subparsers, time_budget_s)
from jaxseq.data import sketches as sd
from jaxseq.models import sketch_rnn
from jaxseq.models.sketch_rnn import SketchConfig, TrainSettings
from jaxseq.paths import as_path
from jaxseq.training.loop import is_main_process
from jaxseq.viz.strokes import MAX_GRID_CELLS


def field_help(text):
    """``name: help`` lines -> the ``help`` mapping of ``add_config_flags``."""
    return dict(line.strip().split(": ", 1) for line in text.strip().splitlines())


MODEL_HELP = field_help("""
    conditional: VAE: encoder + latent code z (--no-conditional / --unconditional: decoder only)
    enc_size: encoder LSTM size per direction
    dec_size: decoder LSTM size
    z_size: latent size Nz
    n_mix: mixture components M
    max_len: Nmax: longer sketches are dropped
    layer_norm: layer-normalised decoder LSTM
    rec_dropout: decoder recurrent dropout rate
    w_kl: KL weight w_KL
    kl_min: KL tolerance KL_min (per latent dimension)
    eta_min: initial KL annealing weight
    kl_decay: KL annealing rate R
    compute_dtype: matmul dtype (losses stay float32)
    enc_fused: both encoder directions in one vmapped scan (same math)
    unroll: lax.scan unroll (same math; usually faster on GPU, slower to compile)""")
TRAIN_HELP = field_help("""
    steps: training steps
    batch_size: sketches per step
    lr: initial learning rate (Adam)
    min_lr: learning-rate floor
    lr_decay: per-step learning-rate decay
    clip: global gradient-norm clip
    augment: random scaling / point dropping
    drop_prob: point-drop probability of the augmentation
    dequant: uniform noise width added to training offsets, in data units (1: dequantise integer data)
    seed: random seed (init, data order, sampling)
    eval_every: validation losses every N steps
    ckpt_every: checkpoint every N steps
    log_every: average train metrics over N steps
    samples: sketches per periodic sample grid (0: none)
    sample_every: sample grid every N steps (at an eval step; also at the end)
    progress: progress bar""")


def load_data(name, data_dir, category, max_len):
    path = sd.resolve(name, data_dir or None, category or None)
    data = sd.load(path, max_len=max_len)
    print(f"data: {path}: train/valid/test = {[len(data[s]) for s in sd.SPLITS]} sketches "
          f"(<= {max_len} points)")
    return data


def check_positive(a, *names):
    for n in names:
        if getattr(a, n) <= 0:
            fail(f"--{n.replace('_', '-')} {getattr(a, n)}: give a positive number")


# --------------------------------------------------------------------------------------------- train
def cmd_train(a):
    check_positive(a, "steps", "batch_size", "max_len", "enc_size", "dec_size", "z_size", "n_mix",
                   "log_every", "sample_every")
    cfg = config_from_args(SketchConfig, a)
    settings = config_from_args(TrainSettings, a)
    budget = time_budget_s(a)
    name = sd.dataset_name(a.data, a.category)
    ckpt_dir = as_path(a.ckpt_dir or f"runs/sketch_rnn/{name}")   # gs://bucket/run stays a URI
    data = load_data(a.data, a.data_dir, a.category, cfg.max_len)
    info = {"name": name, "data": a.data, "category": a.category, "data_dir": a.data_dir}
    _, hist, _ = sketch_rnn.train(cfg, settings, data, ckpt_dir, info=info, time_budget_s=budget,
                                  init_from=(sketch_rnn.resolve_checkpoint(a.init_from)
                                             if a.init_from else None))
    if not is_main_process():   # every process trained and saved; process 0 alone writes files
        return
    from jaxseq.training.checkpoint import write_history
    write_history(ckpt_dir, hist)   # merged with the rows from before a resume
    if hist.stopped == "preempted":   # the checkpoint is saved; the VM is going away
        return
    rows = [h["steps_per_s"] for h in hist if "steps_per_s" in h]
    if rows:
        print(f"train speed: {np.mean(rows[1:] or rows):.2f} steps/s")
    print(f"checkpoints in {ckpt_dir}; sample with: python experiments/sketch_rnn.py sample --ckpt {ckpt_dir}")


# ---------------------------------------------------------------------------------------------- eval
def cmd_eval(a):
    model = sketch_rnn.load(a.ckpt, step=a.step)
    tr = model.meta.get("train", {})
    name = a.data or tr.get("data") or model.meta["data"]
    stored_dir = tr.get("data_dir", "")   # where it was trained; often another machine's path
    data_dir = a.data_dir or (stored_dir if stored_dir and os.path.isdir(stored_dir) else "")
    data = load_data(name, data_dir, a.category or tr.get("category", ""), model.config.max_len)
    m = model.evaluate(data[a.split], batch_size=a.batch_size, seed=a.seed)
    print(f"{a.ckpt} step {model.step}, {name} {a.split} ({len(data[a.split])} sketches): "
          f"Lr = {m['lr']:.4f} (offsets {m['l_s']:.4f}, pen {m['l_p']:.4f}), Lkl = {m['kl']:.4f}")
    if a.json:
        out_path(a.json, "--json").write_text(json.dumps({"step": model.step, "split": a.split, **m},
                                                         indent=1))


# -------------------------------------------------------------------------------------------- sample
def cmd_sample(a):
    check_positive(a, "n")
    if a.reconstruct and a.interpolate:
        fail("--reconstruct and --interpolate: choose one")
    out = out_path(a.out)
    if out.suffix.lower() != ".svg" and a.n > MAX_GRID_CELLS:
        fail(f"--n {a.n}: a PNG grid holds at most {MAX_GRID_CELLS} sketches; write an .svg for more")
    model = sketch_rnn.load(a.ckpt, step=a.step)
    kw = {"temperature": a.temperature, "seed": a.seed}
    if a.reconstruct or a.interpolate:
        if not model.config.conditional:
            fail(f"--reconstruct/--interpolate need a conditional (VAE) checkpoint; {a.ckpt} is unconditional")
        if a.data or a.data_dir:
            tr = model.meta.get("train", {})
            src = load_data(a.data or tr.get("data") or model.meta["data"], a.data_dir,
                            "" if a.data else tr.get("category", ""), model.config.max_len)["test"]
        else:
            src = model.examples
        if a.interpolate and (max(a.pair) >= len(src) or min(a.pair) < 0):
            fail(f"--pair {a.pair[0]} {a.pair[1]}: there are {len(src)} source sketches")
    if a.reconstruct:
        real = src[:max(a.n // 2, 1)]
        sketches = [s for pair in zip(real, model.reconstruct(real, **kw)) for s in pair]
        titles = [t for i in range(len(real)) for t in (f"input {i}", f"recon. {i}")]
    elif a.interpolate:
        sketches = model.interpolate(src[a.pair[0]], src[a.pair[1]], steps=a.n, **kw)
        titles = [f"t={t:.2f}" for t in np.linspace(0, 1, a.n)]
    else:
        sketches = model.sample(a.n, **kw)
        titles = [f"tau={a.temperature}"] * a.n
    path = model.save(sketches, out, None if out.suffix.lower() == ".svg" else titles)
    print(f"step {model.step}: wrote {path}")


# ---------------------------------------------------------------------------------------------- prep
def cmd_prep(a):
    """One compact, pickle-free npz of the train/valid/test stroke-3 sketches, to carry elsewhere."""
    out = out_path(a.out)
    data = load_data(a.data, a.data_dir, a.category, a.max_len)
    out = sd.save_npz(out, data)
    print(f"wrote {out}: {out.stat().st_size / 2**20:.2f} MiB")


# ---------------------------------------------------------------------------------------------- args
def data_args(q, default="sheep"):
    q.add_argument("--data", default=default, help="data set: sheep, kanji, short_kanji, omniglot, or a "
                   "path to a stroke-3 npz")
    q.add_argument("--category", default="", help="a QuickDraw category (e.g. cat), fetched by name from "
                   "the official sketchrnn bucket into ~/.cache/jaxseq and SHA-256-pinned")
    q.add_argument("--data-dir", default="", help="data root holding sketch-rnn/<file>.npz (else "
                   "$JAXSEQ_DATA, then ~/.cache/jaxseq)")


def ckpt_args(q):
    q.add_argument("--ckpt", default=sketch_rnn.DEFAULT_CHECKPOINT, help="checkpoint dir, or a shipped "
                   "name (sheep)")
    q.add_argument("--step", type=int, default=None, help="checkpoint step (default: best, else latest)")
    q.add_argument("--seed", type=int, default=sketch_rnn.SEED, help="seed of the sampled z / strokes")


def build_parser():
    p = parser(__doc__)
    sub = subparsers(p)
    t = sub.add_parser("train", help="train a model (an existing --ckpt-dir is resumed)")
    data_args(t)
    add_config_flags(t, SketchConfig, help=MODEL_HELP, choices={"compute_dtype": ["float32", "bfloat16"]})
    t.add_argument("--unconditional", dest="conditional", action="store_false", default=argparse.SUPPRESS,
                   help="decoder only, no latent code (same as --no-conditional)")
    add_config_flags(t, TrainSettings, help=TRAIN_HELP)
    t.add_argument("--ckpt-dir", default="", help="checkpoint dir (default runs/sketch_rnn/<data>)")
    t.add_argument("--init-from", default="", metavar="CKPT",
                   help="start a new run from the params of this checkpoint (a shipped name such as sheep, "
                        "an export or a run; fresh optimizer, step 0; ignored when --ckpt-dir holds a run)")
    add_time_budget(t)
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("eval", help="Lr and Lkl on a split")
    ckpt_args(e)
    data_args(e, default="")
    e.add_argument("--split", default="test", choices=sd.SPLITS, help="which split")
    e.add_argument("--batch-size", type=int, default=100, help="sketches per eval batch")
    e.add_argument("--json", default="", help="also write the numbers to this JSON file")
    e.set_defaults(fn=cmd_eval)

    s = sub.add_parser("sample", help="sample, reconstruct or interpolate")
    ckpt_args(s)
    s.add_argument("--n", type=int, default=sketch_rnn.N_SAMPLES, help="sketches (interpolation steps)")
    s.add_argument("--temperature", type=float, default=sketch_rnn.TEMPERATURE, help="sampling temperature")
    s.add_argument("--out", default="out/sketch_rnn/grid.png", help="output .png (grid) or .svg")
    s.add_argument("--reconstruct", action="store_true", help="encode real test sketches and decode "
                   "them (pairs input/reconstruction)")
    s.add_argument("--interpolate", action="store_true", help="decode along the slerp path between the "
                   "codes of two test sketches")
    s.add_argument("--pair", type=int, nargs=2, default=(0, 1), help="which two sketches to interpolate")
    s.add_argument("--data", default="", help="take sketches from this data set's test split instead of "
                   "the examples stored in the checkpoint")
    s.add_argument("--data-dir", default="", help="data root (with --data)")
    s.set_defaults(fn=cmd_sample)

    add_export(sub, default_pick="best", metric="val_loss")

    q = sub.add_parser("prep", help="write one compact npz of a data set (for .devcarry/)")
    data_args(q)
    q.add_argument("--max-len", type=int, default=SketchConfig.max_len, help="drop longer sketches")
    q.add_argument("--out", required=True, help="output .npz (e.g. .devcarry/sketch-rnn/kanji.npz)")
    q.set_defaults(fn=cmd_prep)
    return p


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.fn(a)


if __name__ == "__main__":
    run(main)
