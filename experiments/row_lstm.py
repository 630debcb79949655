"""Row-LSTM image classifier: each 28x28 image is 28 time steps of 28 pixels, an LSTM of --hidden units
reads them, the last step goes to 10 classes. Fashion-MNIST uses its standard 60k/10k split. MNIST: only
the 10k test images are available here, so --data mnist trains on a seeded, labelled 8k part of them and
tests on the other 2k (--split-seed; NOT the standard MNIST split, not comparable with published numbers).
The test set is scored once, with the last step.

    python experiments/row_lstm.py train --data fashion-mnist --time-budget 4   # resumable
    python experiments/row_lstm.py train --data mnist --ckpt-dir runs/row_lstm/mnist
    python experiments/row_lstm.py eval --ckpt fashion-mnist                     # the shipped checkpoint
    python experiments/row_lstm.py export --ckpt runs/row_lstm/fashion-mnist --out ckpt/row_lstm/fashion-mnist --dtype bfloat16

Data: <data dir>/fashion-mnist/*-ubyte.gz, <data dir>/mnist/t10k-*-ubyte.gz (--data-dir, else $JAXSEQ_DATA,
else ~/.cache/jaxseq). From Python: ``from jaxseq import row_lstm; row_lstm.load().predict(images)``.
"""
from __future__ import annotations

import os

# Grow GPU memory on demand instead of grabbing 75% of it: other jobs may share the GPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import json

from _cli import (add_config_flags, add_export, add_time_budget, config_from_args, fail, out_path, parser,
                  run, subparsers, time_budget_s)
from jaxseq import row_lstm
from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.models.row_lstm.training import T10K_SPLIT

HELP = {"data": "fashion-mnist (standard 60k/10k) or mnist (seeded 8k/2k split of the 10k test set)",
        "split_seed": "mnist: seed of the 8k/2k split", "hidden": "LSTM size",
        "steps": "optimizer steps (fashion-mnist: 469 per epoch at batch 128)",
        "batch_size": "images per step", "lr": "Adam learning rate (cosine-decayed to a tenth)",
        "clip_norm": "global gradient-norm clip", "unroll": "lax.scan unroll (speed only)",
        "seed": "seed for init and batch order"}


def test_report(clf, xte, yte, desc, cfg_data):
    res = clf.evaluate(xte, yte)
    return {"data": cfg_data, "split": desc, "step": clf.meta.get("step"), "test_accuracy": res["accuracy"],
            "test_nll": res["nll"], "n_test": res["n"], "confusion": res["confusion"]}


def cmd_train(a):
    cfg = config_from_args(row_lstm.RowTrainConfig, a)
    budget = time_budget_s(a)
    ckpt_dir = check_output_dir(a.ckpt_dir or f"runs/row_lstm/{cfg.data}")
    dest = out_path(a.out) if a.out else None
    xtr, ytr, xte, yte, desc = row_lstm.load_data(cfg, a.data_dir)
    _, hist = row_lstm.train(cfg, xtr, ytr, ckpt_dir, meta={"split": desc}, time_budget_s=budget,
                             progress=a.progress)
    res = dict(test_report(row_lstm.load(ckpt_dir), xte, yte, desc, cfg.data), n_train=int(len(xtr)),
               stopped=hist.stopped)
    print(json.dumps({k: v for k, v in res.items() if k != "confusion"}, indent=1))
    if dest:
        write_atomic(dest, json.dumps(res, indent=1))


def cmd_eval(a):
    clf = row_lstm.load(a.ckpt)
    data = a.data or clf.meta.get("config", {}).get("data", "fashion-mnist")
    if data not in T10K_SPLIT:
        fail(f"--data {data!r}: choose one of {sorted(T10K_SPLIT)}")
    seed = clf.meta.get("config", {}).get("split_seed", 0) if a.split_seed is None else a.split_seed
    cfg = row_lstm.RowTrainConfig(data=data, split_seed=seed)
    _, _, xte, yte, desc = row_lstm.load_data(cfg, a.data_dir)
    res = dict(test_report(clf, xte, yte, desc, data), checkpoint=str(a.ckpt))
    print(json.dumps({k: v for k, v in res.items() if k != "confusion"}, indent=1))
    if a.out:
        write_atomic(out_path(a.out), json.dumps(res, indent=1))


def build_parser():
    ap = parser(__doc__)
    sub = subparsers(ap)
    t = sub.add_parser("train", help="train (or resume), then score the test set")
    add_config_flags(t, row_lstm.RowTrainConfig, help=HELP, choices={"data": sorted(T10K_SPLIT)})
    t.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    t.add_argument("--ckpt-dir", default=None, help="run directory (default runs/row_lstm/<data>; an "
                   "existing run resumes)")
    t.add_argument("--out", default=None, help="also write the test result JSON here")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    add_time_budget(t)
    t.set_defaults(fn=cmd_train)
    e = sub.add_parser("eval", help="test accuracy of a checkpoint")
    e.add_argument("--ckpt", default=row_lstm.DEFAULT_CHECKPOINT, help="shipped name or checkpoint folder")
    e.add_argument("--data", default=None, choices=sorted(T10K_SPLIT), help="default: the checkpoint's")
    e.add_argument("--split-seed", type=int, default=None, help="mnist split seed (default: the checkpoint's)")
    e.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    e.add_argument("--out", default=None, help="also write the result JSON here")
    e.set_defaults(fn=cmd_eval)
    add_export(sub)
    return ap


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.fn(a)


if __name__ == "__main__":
    run(main)
