"""The Keras character-level seq2seq (English -> French, LSTM 256, one-hot characters) on the tutorial pairs.

  python experiments/keras_char_seq2seq.py translate --text "Go." --text "I am cold."   # shipped checkpoint
  echo "Help me." | python experiments/keras_char_seq2seq.py translate               # one line per sentence
  python experiments/keras_char_seq2seq.py train --time-budget 10      # the notebook's settings; resumable
  python experiments/keras_char_seq2seq.py eval --ckpt runs/keras_char/eng-fra     # test CER and BLEU

Training writes to runs/keras_char/eng-fra (resumes from it); ``--export DIR`` then saves the params-only
checkpoint of the best validation CER. Data: <data dir>/pytorch-tutorial/data.zip (the first
``--num-samples`` lines of eng-fra.txt, as the notebook reads fra.txt).
From Python: ``from jaxseq.models.seq2seq import keras_char; keras_char.load().translate(["Go."])``.
"""
from __future__ import annotations

import json
from pathlib import Path

from _cli import (add_config_flags, add_export_flags, add_time_budget, check_outputs, config_from_args,
                  each_output, export_run, fail, parser, plain_warnings, print_params, run, subparsers,
                  text_lines, time_budget_s)

ROOT = Path(__file__).resolve().parents[1]
HELP = {"num_samples": "the first N pairs of eng-fra.txt (the notebook: 10,000)",
        "split_seed": "seed of the fixed 90/5/5 train/valid/test split",
        "hidden": "LSTM size of encoder and decoder (the notebook's latent_dim)",
        "batch_size": "pairs per step", "steps": "training steps (14,000 ~ the notebook's 100 epochs)",
        "lr": "RMSprop learning rate (Keras' RMSprop: rho 0.9, eps 1e-7)",
        "clip_norm": "global gradient-norm clip (0: none, as the notebook)",
        "seed": "seed of initialisation and batches", "eval_every": "validation NLL/CER/BLEU every N steps",
        "ckpt_every": "checkpoint every N steps", "eval_sentences": "validation sentences decoded per eval",
        "unroll": "lax.scan unroll factor (GPU speed knob)"}


def parse_args(argv=None):
    from jaxseq.models.seq2seq.keras_char import Config
    p = parser(__doc__)
    sub = subparsers(p)
    t = sub.add_parser("train", help="train (resumes from --out), then test CER/BLEU")
    add_config_flags(t, Config, help=HELP)
    t.add_argument("--data-dir", help="data root holding pytorch-tutorial/data.zip (else $JAXSEQ_DATA, "
                   "the cache, or a download)")
    t.add_argument("--data", help="explicit data file: data.zip, eng-fra.txt or eng-fra.txt.gz")
    t.add_argument("--out", help="run directory (default runs/keras_char/eng-fra)")
    add_export_flags(t)
    add_time_budget(t)
    e = sub.add_parser("eval", help="test CER and BLEU of a checkpoint (needs the data)")
    e.add_argument("--ckpt", default="eng-fra", help="checkpoint directory or shipped name")
    e.add_argument("--data-dir", help="data root holding pytorch-tutorial/data.zip")
    e.add_argument("--data", help="explicit data file: data.zip, eng-fra.txt or eng-fra.txt.gz")
    e.add_argument("--out", help="also write test_results.json and the outputs here")
    s = sub.add_parser("translate", help="translate --text sentences, else lines read from stdin")
    s.add_argument("--ckpt", default="eng-fra", help="checkpoint directory or shipped name")
    s.add_argument("--text", action="append", help="an English sentence (repeatable)")
    args = p.parse_args(argv)
    cfg = config_from_args(Config, args) if args.cmd == "train" else None
    return args, cfg


def report(res, hyps, data, out_dir=None):
    from jaxseq.data.files import write_atomic
    print(f"test ({res['sentences']} held-out pairs): CER {res['cer']:.3f}, BLEU {res['bleu']:.2f}, "
          f"chrF {res['chrf']:.2f}, "
          f"NLL/char {res['nll']:.3f}  [greedy decode {res['decode_seconds']:.2f}s]")
    test = [data.pairs[i] for i in data.split["test"]]
    for (en, fr), h in list(zip(test, hyps))[:8]:
        print(f"  {en}  ->  {h}   (ref: {fr})")
    if out_dir is not None:
        write_atomic(Path(out_dir) / "test_results.json", json.dumps(res, indent=1))
        write_atomic(Path(out_dir) / "test_outputs.txt",
                     "".join(f"{en}\t{h}\t{fr}\n" for (en, fr), h in zip(test, hyps)))


def train(args, cfg):
    import jax
    from jaxseq.models.seq2seq import keras_char as kc
    from jaxseq.models.seq2seq.chatbot_train import fit_run
    out_dir = Path(args.out) if args.out else ROOT / "runs" / "keras_char" / "eng-fra"
    check_outputs(out_dir, args.export)
    data = kc.prepare(cfg.num_samples, cfg.split_seed, args.data_dir, args.data)
    print(data.summary())
    mcfg = kc.model_config(cfg, data)
    params = kc.init(jax.random.PRNGKey(cfg.seed), mcfg)
    print_params(params, mcfg)
    params, hist, done = fit_run(out_dir, kc.make_loss(mcfg), params, kc.batch_fn(data, cfg),
                                 kc.train_config(cfg), eval_fn=kc.make_eval_fn(mcfg, data, cfg),
                                 meta=kc.make_meta(cfg, mcfg, data), best_metric="val_cer",
                                 time_budget_s=time_budget_s(args))
    if done < cfg.steps:
        print(f"stopped at step {done} ({hist.stopped or 'time budget'}); the same command resumes")
    params, _, _ = kc.restore(out_dir)     # the best validation CER
    res, hyps = kc.evaluate_split(params, mcfg, data, "test")
    res["steps"] = done
    report(res, hyps, data, out_dir)
    if args.export:
        export_run(out_dir, args)


def evaluate(args):
    from jaxseq.models.seq2seq import keras_char as kc
    params, mcfg, meta = kc.restore(kc.resolve(args.ckpt))
    c = kc.Config.from_meta(meta["config"])
    data = kc.prepare(c.num_samples, c.split_seed, args.data_dir, args.data)
    if (data.src_cs.to_json(), data.tgt_cs.to_json()) != (meta["src_charset"], meta["tgt_charset"]):
        fail(f"the data gives other character sets than checkpoint {args.ckpt} was trained with; evaluate "
             f"on the same eng-fra.txt")
    res, hyps = kc.evaluate_split(params, mcfg, data, "test")
    report(res, hyps, data, args.out)


def translate(args):
    from jaxseq.models.seq2seq import keras_char as kc
    if args.text and not all(t.strip() for t in args.text):
        fail("--text got an empty sentence; give the text to translate")
    tr = kc.load(args.ckpt)
    interactive = not args.text
    lines = text_lines(args.text, interactive, "type an English sentence per line, Ctrl-D to end")
    for _, text, (out,) in each_output(lines, lambda t: tr.translate([t]), interactive):
        print(f"> {text}\n= {out}", flush=True)


def main(argv=None):
    plain_warnings()
    args, cfg = parse_args(argv)
    if args.cmd == "train":
        return train(args, cfg)
    if args.cmd == "eval":
        return evaluate(args)
    return translate(args)


if __name__ == "__main__":
    run(main)
