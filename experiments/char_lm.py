"""Character-level LSTM text generator on tiny Shakespeare (Karpathy's char-rnn set-up): truncated BPTT
with the LSTM state carried across consecutive windows of --batch-size parallel contiguous streams;
validation bits/char over the held-out last 10% of the text; greedy and temperature sampling.

    python experiments/char_lm.py generate --prime "ROMEO:" --n 4 --temperature 0.8   # shipped checkpoint
    python experiments/char_lm.py generate --prime "ROMEO:" --temperature 0           # greedy
    python experiments/char_lm.py train --ckpt-dir runs/char_lm --time-budget 10      # resumable
    python experiments/char_lm.py eval --ckpt runs/char_lm                            # validation bits/char
    python experiments/char_lm.py export --ckpt runs/char_lm --out ckpt/char_lm/shakespeare --dtype bfloat16

Data: <data dir>/tinyshakespeare/input.txt (--data-dir, else $JAXSEQ_DATA, else ~/.cache/jaxseq), or a
compact .npz written by `scheduled_sampling.py --cache` (--data). From Python:
``from jaxseq import char_lm; char_lm.load().generate("ROMEO:", n=4)``.
"""
from __future__ import annotations

import os

# Grow GPU memory on demand instead of grabbing 75% of it: other jobs may share the GPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import json

from _cli import (add_config_flags, add_export, add_time_budget, config_from_args, out_path, parser, run,
                  subparsers, time_budget_s)
from jaxseq import char_lm
from jaxseq.data import shakespeare
from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.models.char_lm import generator

HELP = {"steps": "optimizer steps (each: one window of every stream)",
        "batch_size": "parallel contiguous streams of the training text",
        "seq_len": "characters per truncated-BPTT window", "embed": "character embedding size",
        "hidden": "LSTM size", "layers": "LSTM layers",
        "dropout": "dropout between layers and before the softmax",
        "lr": "Adam peak learning rate (warm-up, then cosine to lr/20)", "warmup": "warm-up steps",
        "clip_norm": "global gradient-norm clip", "eval_every": "steps between validation passes",
        "val_streams": "validation text read as this many contiguous streams",
        "unroll": "lax.scan unroll (speed only)", "log_every": "steps between loss rows",
        "seed": "seed for init and dropout"}


def add_data_flags(p):
    p.add_argument("--data-dir", default=None, help="data root holding tinyshakespeare/input.txt "
                   "(None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    p.add_argument("--data", default=None, help="a compact .npz of the corpus (scheduled_sampling.py "
                   "--cache), used instead")


def load_split(a):
    ids, charset = shakespeare.load(a.data_dir, cache=a.data)
    train_ids, val_ids = shakespeare.split(ids)
    return train_ids, val_ids, charset, a.data or shakespeare.text_path(a.data_dir)


def cmd_train(a):
    cfg = config_from_args(char_lm.GenConfig, a)
    budget = time_budget_s(a)
    ckpt_dir = check_output_dir(a.ckpt_dir)
    train_ids, val_ids, charset, source = load_split(a)
    generator.check_corpus(cfg, train_ids, val_ids, source)
    _, hist = generator.train(cfg, train_ids, val_ids, charset, ckpt_dir, time_budget_s=budget,
                              progress=a.progress)
    vals = [h["val_bits_per_char"] for h in hist if "val_bits_per_char" in h]
    if vals:
        print(json.dumps({"step": hist.step, "val_bits_per_char": vals[-1],
                          "best_val_bits_per_char": min(vals), "stopped": hist.stopped}))
    lm = char_lm.load(ckpt_dir)   # the best step, continuing the start of the validation text
    print("--- sample ---\n" + lm.generate(charset.decode(val_ids[:16]), n=1, length=200)[0])


def cmd_eval(a):
    lm = char_lm.load(a.ckpt)
    _, val_ids, charset, source = load_split(a)
    ids = lm.charset.encode(charset.decode(val_ids))   # the checkpoint's own ids for the same text
    bpc = generator.bits_per_char(lm.params, ids, a.val_streams)
    res = {"checkpoint": str(a.ckpt), "step": lm.meta.get("step"), "data": str(source),
           "val_chars": int(len(val_ids)), "val_streams": a.val_streams, "val_bits_per_char": bpc}
    print(json.dumps(res, indent=1))
    if a.out:
        write_atomic(out_path(a.out), json.dumps(res, indent=1))


def cmd_generate(a):
    dest = out_path(a.out) if a.out else None
    lm = char_lm.load(a.ckpt)
    texts = lm.generate(a.prime.replace("\\n", "\n"), a.n, a.length, a.temperature, a.seed)
    body = "".join(t + "\n-----\n" for t in texts)
    print(body, end="")
    if dest:
        write_atomic(dest, body)
        print("wrote", dest)


def build_parser():
    ap = parser(__doc__)
    sub = subparsers(ap)
    t = sub.add_parser("train", help="train (or resume) on tiny Shakespeare")
    add_data_flags(t)
    add_config_flags(t, char_lm.GenConfig, help=HELP)
    t.add_argument("--ckpt-dir", default="runs/char_lm", help="run directory (an existing run resumes)")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    add_time_budget(t)
    t.set_defaults(fn=cmd_train)
    e = sub.add_parser("eval", help="validation bits/char of a checkpoint")
    e.add_argument("--ckpt", default=char_lm.DEFAULT_CHECKPOINT, help="shipped name or checkpoint folder")
    add_data_flags(e)
    e.add_argument("--val-streams", type=int, default=char_lm.GenConfig.val_streams,
                   help="validation text read as this many contiguous streams")
    e.add_argument("--out", default=None, help="also write the result JSON here")
    e.set_defaults(fn=cmd_eval)
    g = sub.add_parser("generate", help="sample text from a checkpoint")
    g.add_argument("--ckpt", default=char_lm.DEFAULT_CHECKPOINT, help="shipped name or checkpoint folder")
    g.add_argument("--prime", default="ROMEO:", help="text to start from (\\n for a newline)")
    g.add_argument("--n", type=int, default=1, help="texts to generate (one batched call)")
    g.add_argument("--length", type=int, default=char_lm.GEN_LENGTH, help="characters after the prime")
    g.add_argument("--temperature", type=float, default=char_lm.GEN_TEMPERATURE,
                   help="sampling temperature; 0 is greedy (the most likely character each step)")
    g.add_argument("--seed", type=int, default=0, help="sampling seed")
    g.add_argument("--out", default=None, help="also write the texts to this file")
    g.set_defaults(fn=cmd_generate)
    add_export(sub, default_pick="best", metric=generator.BEST)
    return ap


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.fn(a)


if __name__ == "__main__":
    run(main)
