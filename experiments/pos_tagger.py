"""LSTM part-of-speech tagger (the PyTorch sequence-models tutorial) with its character-level augmentation:
a character LSTM over each word's letters feeds the word LSTM (--no-use-chars: words only).

  python experiments/pos_tagger.py train                       # the tutorial's two toy sentences
  python experiments/pos_tagger.py train --train en_ewt-ud-train.conllu --dev en_ewt-ud-dev.conllu \\
      --test en_ewt-ud-test.conllu --out runs/pos_tagger/ewt_chars     # any CoNLL-U treebank
  python experiments/pos_tagger.py predict "The dog read the book"     # the shipped toy checkpoint
  python experiments/pos_tagger.py eval --ckpt runs/pos_tagger/toy_chars/ckpt --data FILE.conllu

train writes into --out (default runs/pos_tagger/<toy|file stem>_<chars|words>): ckpt/ (resumes from it)
and results.json (accuracy on each given set). No real tagged English corpus ships with this repository or
its data folder; see docs/results_embeddings.md.
From Python: `from jaxseq import pos_tagger; pos_tagger.load().predict("The dog read the book")`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _cli import add_config_flags, add_time_budget, commands, config_from_args, fail, run, time_budget_s

from jaxseq.data.files import check_output_dir, write_atomic

HELP = {"embed": "word embedding size", "hidden": "word LSTM size",
        "use_chars": "the character LSTM over each word's letters (the tutorial's augmentation)",
        "char_embed": "character embedding size", "char_hidden": "character LSTM size",
        "max_word_len": "letters read per word", "min_count": "rarer training words become <unk>",
        "tagset": "CoNLL-U tag column", "batch_size": "sentences per step (at most the training set)",
        "steps": "training steps", "lr": "Adam learning rate", "eval_every": "dev accuracy every N steps",
        "seed": "init and batch order"}


def add_train(sub):
    from jaxseq.models.pos_tagger import TaggerConfig
    p = sub.add_parser("train", help="train a tagger (resumable)")
    p.add_argument("--train", default=None, help="CoNLL-U training file (default: the tutorial's toy sentences)")
    p.add_argument("--dev", default=None, help="CoNLL-U file scored during training (toy: the training set)")
    p.add_argument("--test", default=None, help="CoNLL-U file scored at the end")
    add_config_flags(p, TaggerConfig, help=HELP, choices={"tagset": ("upos", "xpos")})
    p.add_argument("--out", default=None, help="run folder")
    p.add_argument("--export", default=None, help="also export the trained params to this folder")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    add_time_budget(p)
    p.set_defaults(fn=cmd_train)


def cmd_train(a):
    from jaxseq.models.pos_tagger import TaggerConfig, Vocabs, accuracy, load_tagged, train
    from jaxseq.training import checkpoint
    cfg = config_from_args(TaggerConfig, a)
    name = Path(a.train).stem if a.train else "toy"
    out = check_output_dir(a.out or f"runs/pos_tagger/{name}_{'chars' if cfg.use_chars else 'words'}")
    if a.export:
        check_output_dir(a.export)
    budget = time_budget_s(a)
    train_set, source = load_tagged(a.train, cfg.tagset)
    dev_set = load_tagged(a.dev, cfg.tagset)[0] if a.dev else (train_set if a.train is None else None)
    test_set = load_tagged(a.test, cfg.tagset)[0] if a.test else None
    vocabs = Vocabs.build(train_set, cfg.min_count)
    params, hist, secs = train(cfg, train_set, vocabs, out / "ckpt", dev_set=dev_set, source=source,
                               time_budget_s=budget, progress=a.progress)
    res = {"source": source, "use_chars": cfg.use_chars, "steps": hist.step, "train_s": round(secs, 1),
           "words": len(vocabs.words), "tags": vocabs.tags, "train_sentences": len(train_set),
           "train_accuracy": accuracy(params, train_set, vocabs, 64, cfg.max_word_len),
           "command": "python experiments/pos_tagger.py " + " ".join(sys.argv[1:])}
    for key, s in (("dev", dev_set if a.dev else None), ("test", test_set)):
        if s:
            res[f"{key}_accuracy"] = accuracy(params, s, vocabs, 64, cfg.max_word_len)
    write_atomic(out / "results.json", json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    if a.export:
        step = checkpoint.export(out / "ckpt", a.export)
        print(f"exported step {step} to {a.export}")


def add_eval(sub):
    p = sub.add_parser("eval", help="tag accuracy of a checkpoint on a tagged set")
    p.add_argument("--ckpt", default="toy", help="checkpoint folder, or 'toy' (shipped)")
    p.add_argument("--data", default=None, help="CoNLL-U file (default: the tutorial's toy sentences)")
    p.set_defaults(fn=cmd_eval)


def cmd_eval(a):
    from jaxseq.models.pos_tagger import accuracy, load, load_tagged
    tagger = load(a.ckpt)
    tagged, source = load_tagged(a.data, tagger.meta.get("config", {}).get("tagset", "upos"))
    acc = accuracy(tagger.params, tagged, tagger.vocabs, 64, tagger.max_word_len)
    print(json.dumps({"data": source, "sentences": len(tagged), "accuracy": acc}))


def add_predict(sub):
    p = sub.add_parser("predict", help="tag sentences (words split on spaces)")
    p.add_argument("sentences", nargs="+", help="one quoted sentence each")
    p.add_argument("--ckpt", default="toy", help="checkpoint folder, or 'toy' (shipped)")
    p.set_defaults(fn=cmd_predict)


def cmd_predict(a):
    from jaxseq.models.pos_tagger import load
    for s in a.sentences:
        if not s.split():
            fail(f"sentence {s!r} has no words; give at least one word")
    tagger = load(a.ckpt)
    for tagged in tagger.predict(a.sentences):
        print(" ".join(f"{w}/{t}" for w, t in tagged))


def main(argv=None):
    return commands(__doc__, argv, add_train, add_eval, add_predict)


if __name__ == "__main__":
    run(main)
