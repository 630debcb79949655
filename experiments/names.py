"""Surnames and languages (the PyTorch tutorials' character RNNs, batched and masked): a classifier that
reads a name and predicts one of 18 languages, and a generator that writes names of a language.

    python experiments/names.py predict Schmidhuber                      # top 3 languages, shipped model
    python experiments/names.py generate --language Russian --start RUS  # one name per start letter
    python experiments/names.py train --task classifier --cell lstm --ckpt-dir runs/names/lstm
    python experiments/names.py train --task generator --no-conditional --ckpt-dir runs/names/gen_uncond
    python experiments/names.py eval --ckpt runs/names/lstm --ckpt runs/names/gru --out runs/names/eval
    python experiments/names.py export --ckpt runs/names/gru --pick best --out ckpt/names/classifier

Data: pytorch-tutorial/data.zip (data/names/*.txt) under --data-dir, $JAXSEQ_DATA or the user cache
(downloaded there with its checksum when absent); a seeded, stratified 80/10/10 train/val/test split.
From Python: ``from jaxseq import names; names.load().predict(["Schmidhuber"])``.
"""
from __future__ import annotations

import os

# Grow GPU memory on demand instead of grabbing 75% of it: other jobs may share the GPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import json
import time
from pathlib import Path

from _cli import add_config_flags, add_export, add_time_budget, config_from_args, fail, parser, run, subparsers
from _cli import time_budget_s

from jaxseq.data import names as nd
from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.models import names
from jaxseq.models.names import training as nt
from jaxseq.models.names.model import CELL_NAMES
from jaxseq.training.checkpoint import load_for_sampling, write_history
from jaxseq.training.loop import is_main_process

HELP = {"task": "classifier (language of a name) or generator (names of a language)",
        "cell": "recurrent cell: rnn_relu (the tutorial's seed), rnn (tanh), lstm, gru",
        "hidden": "recurrent state size", "layers": "generator: stacked layers",
        "conditional": "generator: the language one-hot joins the input at every step "
                       "(--no-conditional: the unconditional baseline)",
        "dropout": "generator: dropout on the top layer's output",
        "balanced": "draw every batch's languages uniformly, as the tutorial samples (else: shuffled data)",
        "steps": "optimizer steps",
        "batch_size": "names per batch", "lr": "Adam learning rate (cosine-decayed to a tenth)",
        "clip": "global gradient-norm clip", "eval_every": "steps between validations (best kept)",
        "seed": "init, batch order and dropout", "split_seed": "seed of the stratified 80/10/10 split",
        "progress": "progress bar", "unroll": "lax.scan unroll (same math; usually faster on a GPU)"}


def add_data_flags(p):
    p.add_argument("--data-dir", default=None, help="data root holding pytorch-tutorial/data.zip "
                   "(None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    p.add_argument("--data", default=None, help="the tutorial data.zip itself (instead of --data-dir)")


def load_data(a):
    data = nd.load(a.data_dir, a.data)
    print(f"data: {len(data)} names in {len(data.languages)} languages")
    return data


# --------------------------------------------------------------------------------------------- train
def cmd_train(a):
    cfg = config_from_args(nt.NamesConfig, a)
    budget = time_budget_s(a)
    ckpt_dir = a.ckpt_dir or (f"runs/names/{cfg.task}_{cfg.cell}" + ("_balanced" if cfg.balanced else "") +
                               ("" if cfg.conditional or cfg.task == "classifier" else "_uncond"))
    check_output_dir(ckpt_dir)
    data = load_data(a)
    t0 = time.time()
    _, hist = names.train(cfg, data, ckpt_dir, time_budget_s=budget)
    val = [h for h in hist if any(k.startswith("val_") for k in h)]
    if is_main_process():
        write_history(ckpt_dir, hist)
        last = {k: round(v, 4) for k, v in (val[-1] if val else {}).items()}
        print(f"{cfg.task} ({cfg.cell}): {json.dumps(last)} in {time.time() - t0:.0f}s; "
              f"checkpoint {ckpt_dir}" + (f" (stopped: {hist.stopped}; run again to resume)"
                                          if hist.stopped else ""))


# ---------------------------------------------------------------------------------------------- eval
def cmd_eval(a):
    out = check_output_dir(a.out) if a.out else None
    models = []
    for c in a.ckpt:   # every checkpoint is read before the data and any output
        path = names.resolve_checkpoint(c)
        params, meta = load_for_sampling(path)
        task, cfg = nt.model_from_meta(meta, path)
        models.append((Path(str(c)).name, task, cfg, params, meta))
    data = load_data(a)
    results = {}
    for label, task, cfg, params, meta in models:
        if meta["languages"] != data.languages:
            fail(f"{label}: its languages {meta['languages']} differ from the data's {data.languages}")
        split = meta.get("split", {})
        parts = nd.split(data, split.get("seed", 0), tuple(split.get("fractions", nt.FRACTIONS)))
        part = parts[{"train": 0, "val": 1, "test": 2}[a.split]]
        if task == "classifier":
            r = names.classifier_metrics(params, cfg, part)
            print(f"{label} ({cfg.cell}): {a.split} accuracy {r['accuracy']:.4f}, balanced accuracy "
                  f"{r['balanced_accuracy']:.4f}, NLL {r['nll']:.4f} ({r['n']} names)")
        else:
            r = names.generator_metrics(params, cfg, part)
            kind = "conditional" if cfg.conditional else "unconditional"
            print(f"{label} ({cfg.cell}, {kind}): {a.split} NLL {r['nll_per_token']:.4f} nats/letter, "
                  f"{r['nll_per_name']:.3f} nats/name ({r['n']} names)")
        results[label] = {"task": task, "model": meta["model"], "step": meta.get("step"), "split": a.split,
                          **r}
    if out is None:
        return
    from jaxseq.viz.names import plot_confusion, plot_nll_per_language
    write_atomic(out / "results.json", json.dumps(results, indent=1))
    gens = {}
    for label, r in results.items():
        if r["task"] == "classifier":
            p = plot_confusion(out / f"confusion_{label}.png", r["confusion"], data.languages,
                               f"{label} ({r['model']['cell']}): {a.split} accuracy {r['accuracy']:.3f}")
            print("wrote", p)
        else:
            gens[label] = {g: v["nll_per_token"] for g, v in r["per_language"].items()}
    if gens:
        print("wrote", plot_nll_per_language(out / "nll_per_language.png", gens))
    print("wrote", out / "results.json")


# ----------------------------------------------------------------------------------- predict, generate
def cmd_predict(a):
    for n in a.names:    # a bad name fails before the model is loaded
        nd.check_name(n)
    clf = names.load_classifier(a.ckpt)
    for n, top in zip(a.names, clf.predict(a.names, top=a.top)):
        print(n)
        for lang, lp in top:
            print(f"  ({lp:.2f}) {lang}")


def cmd_generate(a):
    for p in a.start:    # bad start letters fail before the model is loaded
        nd.check_name(p, "start letter")
    gen = names.load_generator(a.ckpt)
    out = gen.generate(a.language, a.start, n=a.n, temperature=a.temperature, seed=a.seed,
                       max_letters=a.max_letters)
    for name in out:
        print(name)


def build_parser():
    ap = parser(__doc__)
    sub = subparsers(ap)
    t = sub.add_parser("train", help="train a classifier or a generator (resumes from --ckpt-dir)")
    add_config_flags(t, nt.NamesConfig, help=HELP, choices={"task": nt.TASKS, "cell": CELL_NAMES})
    add_data_flags(t)
    t.add_argument("--ckpt-dir", default=None, help="checkpoint folder (default: runs/names/<task>_<cell>)")
    add_time_budget(t)
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("eval", help="held-out metrics of one or more checkpoints (classifier: accuracy "
                       "and confusion matrix; generator: NLL per language)")
    e.add_argument("--ckpt", action="append", required=True, help="checkpoint (repeat to compare)")
    e.add_argument("--split", default="test", choices=["train", "val", "test"], help="which part")
    e.add_argument("--out", default=None, help="folder for results.json and the plots")
    add_data_flags(e)
    e.set_defaults(fn=cmd_eval)

    p = sub.add_parser("predict", help="the top languages of surnames, with log-probabilities")
    p.add_argument("names", nargs="+", help="surnames (accents are folded to ASCII)")
    p.add_argument("--ckpt", default="classifier", help="shipped name or checkpoint folder")
    p.add_argument("--top", type=int, default=names.TOP, help="languages per name")
    p.set_defaults(fn=cmd_predict)

    g = sub.add_parser("generate", help="names of a language, one per start letter")
    g.add_argument("--language", default=None, help="e.g. Russian (required by a conditional model)")
    g.add_argument("--start", default="ABC", help="start letters: one name (times --n) per letter")
    g.add_argument("--n", type=int, default=1, help="names per start letter")
    g.add_argument("--temperature", type=float, default=names.TEMPERATURE, help="sampling temperature")
    g.add_argument("--seed", type=int, default=names.SEED, help="sampling seed")
    g.add_argument("--max-letters", type=int, default=names.MAX_LETTERS, help="longest name written")
    g.add_argument("--ckpt", default="generator", help="shipped name or checkpoint folder")
    g.set_defaults(fn=cmd_generate)

    add_export(sub, default_pick="best", metric="val_loss")
    return ap


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.fn(a)


if __name__ == "__main__":
    run(main)
