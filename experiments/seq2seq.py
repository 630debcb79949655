"""The tutorials' encoder-decoders on the English-French pairs, on Luong NMT's data, split and vocabularies.

  python experiments/seq2seq.py train --model simple          # context vector, no attention (GRU)
  python experiments/seq2seq.py train --model tutorial-attn   # the PyTorch tutorial's AttnDecoderRNN, masked
  python experiments/seq2seq.py train --model transformer --time-budget 5   # pre-LN, 3+3 layers, d=256
  python experiments/seq2seq.py eval --ckpt runs/seq2seq/transformer-eng-fra-tutorial
  python experiments/seq2seq.py translate --ckpt DIR --text "i am cold ." --beam 5   # --interactive
  python experiments/seq2seq.py translate --ckpt DIR --src in.txt --output out.txt --ref ref.txt
  python experiments/seq2seq.py plot-attention --tutorial DIR --luong DIR --text "she is happy ." --out a.png

Training writes to runs/seq2seq/<model>-<lang>-<filter> (resumes from it): checkpoints, history.json, test
texts and test_results.json (BLEU/chrF greedy and beam, parameters, train time, tokens/s).
`train --model X --help` shows that model's defaults. Results: docs/results_seq2seq.md.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from _cli import (add_config_flags, add_time_budget, check_outputs, config_from_args, each_output, fail,
                  out_path, parser, run, subparsers, text_lines, time_budget_s)

from jaxseq.data.files import check_output_dir, write_atomic
from nmt_luong import write_test_texts   # the test texts of Luong NMT's runs, file for file

ROOT = Path(__file__).resolve().parents[1]

HELP = {
    "model": "simple: encoder final state starts the decoder, no attention; tutorial-attn: the PyTorch "
             "tutorial's AttnDecoderRNN (location-based attention over max_length positions), masked; "
             "transformer: pre-LN encoder-decoder",
    "lang": "translation direction", "filter": "tutorial: the tutorial's short 'i am/he is' pairs (~10.5k); "
    "none: all 135k pairs (the same data as experiments/nmt_luong.py --filter)",
    "min_count": "words seen fewer times in the training split become <unk>",
    "split_seed": "seed of NMT's fixed 90/5/5 split", "emb": "(RNNs) word embedding size",
    "hidden": "(RNNs) GRU/LSTM size", "cell": "(simple) gru or lstm", "layers": "(simple) RNN layers",
    "bidirectional": "(simple) bidirectional encoder, hidden/2 per direction",
    "tf_ratio": "(RNNs) teacher-forcing ratio: each sentence is fed the truth with this probability, "
                "else its own argmax (the tutorial's per-sentence choice)",
    "max_length": "(tutorial-attn) encoder positions the attention Linear scores; longer inputs are cut",
    "d_model": "(transformer) model width", "heads": "(transformer) attention heads",
    "ff": "(transformer) feed-forward width", "enc_layers": "(transformer) encoder layers",
    "dec_layers": "(transformer) decoder layers", "label_smoothing": "label smoothing of the loss",
    "dropout": "dropout (RNNs: embeddings; transformer: embeddings, every sublayer)",
    "unroll": "(RNNs) lax.scan unroll (GPU speed knob)", "steps": "training steps",
    "batch_size": "sentence pairs per step", "lr": "peak Adam learning rate",
    "schedule": "constant, cosine or exponential", "warmup": "linear warm-up steps",
    "clip_norm": "global gradient-norm clip (0: off)", "seed": "seed of init, batches, dropout",
    "eval_every": "validation loss and greedy BLEU every N steps", "ckpt_every": "checkpoint every N steps",
    "eval_sentences": "validation sentences decoded per evaluation",
    "beam": "beam size of test BLEU (greedy is always reported too)", "alpha": "length normalisation",
}


def _model_of(argv):
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model", default="simple")
    return pre.parse_known_args(argv)[0].model


def parse_args(argv=None):
    from jaxseq.models.seq2seq.common import MODELS
    from jaxseq.models.seq2seq.training import MODEL_DEFAULTS, Config
    p = parser(__doc__)
    sub = subparsers(p)
    t = sub.add_parser("train", help="train one model, then test BLEU/chrF (greedy and beam)")
    t.add_argument("--data-dir", help="data root holding pytorch-tutorial/data.zip (else $JAXSEQ_DATA, "
                   "the cache, or a download)")
    t.add_argument("--data", help="explicit data file: data.zip, eng-fra.txt or eng-fra.txt.gz")
    t.add_argument("--out", help="run directory (default runs/seq2seq/<model>-<lang>-<filter>)")
    t.add_argument("--test-sentences", type=int, default=0, help="decode only the first N test pairs (0: all)")
    t.add_argument("--export", metavar="DIR", help="after training, a params-only copy (for shipping)")
    add_time_budget(t)
    add_config_flags(t, Config, help=HELP, defaults=MODEL_DEFAULTS.get(_model_of(argv), {}),
                     choices={"model": list(MODELS), "lang": ["eng-fra", "fra-eng"],
                              "filter": ["tutorial", "none"], "cell": ["gru", "lstm"]})
    e = sub.add_parser("eval", help="test BLEU/chrF of a checkpoint on its own test split")
    e.add_argument("--ckpt", required=True, help="training run or export directory")
    e.add_argument("--data-dir", help="data root (as for train)")
    e.add_argument("--data", help="explicit data file")
    e.add_argument("--beam", type=int, default=5, help="beam size (greedy is reported too)")
    e.add_argument("--test-sentences", type=int, default=0, help="decode only the first N test pairs (0: all)")
    e.add_argument("--out", help="write test_results.json and the test texts here")
    r = sub.add_parser("translate", help="translate sentences, stdin lines or a file")
    r.add_argument("--ckpt", required=True, help="training run or export directory")
    r.add_argument("--text", action="append", help="a sentence to translate (repeatable)")
    r.add_argument("--interactive", action="store_true", help="translate lines read from stdin")
    r.add_argument("--src", metavar="FILE", help="translate every line of FILE")
    r.add_argument("--output", metavar="FILE", help="with --src: write the translations here (default stdout)")
    r.add_argument("--ref", metavar="FILE", help="with --src: references, one a line: print BLEU and chrF")
    r.add_argument("--beam", type=int, default=5, help="beam size (1: greedy)")
    r.add_argument("--alpha", type=float, default=1.0, help="length normalisation")
    r.add_argument("--decode-batch", type=int, default=64, help="with --src: sentences decoded at once")
    g = sub.add_parser("plot-attention", help="the tutorial decoder's location-based weights beside Luong's "
                       "global attention for one sentence")
    g.add_argument("--tutorial", required=True, help="a tutorial-attn checkpoint directory")
    g.add_argument("--luong", required=True, action="append", help="a Luong NMT checkpoint (directory or "
                   "shipped name, e.g. eng-fra); repeatable: one column each")
    g.add_argument("--text", action="append", required=True, help="source sentence (repeatable: one row each)")
    g.add_argument("--out", required=True, help="PNG or SVG file")
    args = p.parse_args(argv)
    if args.cmd == "train":
        args.cfg = config_from_args(Config, args)
    for flag in ("test_sentences",):
        if getattr(args, flag, 0) < 0:
            fail(f"--{flag.replace('_', '-')} {getattr(args, flag)}: give 0 (all) or a positive count")
    if args.cmd == "translate":
        if not (args.text or args.interactive or args.src):
            fail("nothing to translate: give --text TEXT, --interactive or --src FILE")
        if (args.output or args.ref) and not args.src:
            fail("--output/--ref need --src FILE (the sentences to translate)")
        if args.decode_batch < 1:
            fail(f"--decode-batch {args.decode_batch}: give at least 1")
    return args


def default_out(cfg):
    return ROOT / "runs" / "seq2seq" / f"{cfg.model}-{cfg.lang}-{cfg.filter}"


def report(res, cfg_model):
    print(f"test ({res['test_sentences']} sentences) {cfg_model}: BLEU greedy {res['bleu_greedy']:.2f}, "
          f"beam {res['beam']} {res['bleu_beam']:.2f}; chrF greedy {res['chrf_greedy']:.2f}, beam "
          f"{res['chrf_beam']:.2f}; beam BLEU on the {res['unseen_sentences']} test sources unseen in "
          f"training {res.get('bleu_beam_unseen', float('nan')):.2f}")


def cmd_train(args):
    from jaxseq.models.nmt.model import save
    from jaxseq.models.seq2seq import training
    from jaxseq.training.checkpoint import Checkpointer, write_history
    cfg = args.cfg
    out_dir = Path(args.out) if args.out else default_out(cfg)
    check_outputs(out_dir, args.export)
    budget = time_budget_s(args)
    data = training.prepare(cfg, args.data_dir, args.data)
    print(data.summary(training.data_config(cfg)))
    ck = Checkpointer(out_dir, keep=2, best_metric="val_bleu", best_mode="max")
    start = ck.latest_step() or 0
    try:
        r = training.train(cfg, data, ck, budget)
    finally:
        ck.close()
    print(f"model {cfg.model}: {r.n_params / 1e6:.2f}M params, {r.mcfg}")
    if r.step > start:
        write_history(out_dir, r.history)
    if r.step < cfg.steps:
        print(f"stopped early at step {r.step} ({(r.history.stopped or 'time budget').replace('_', ' ')}); "
              f"rerun the same command to resume")
    print(f"checkpoints in {out_dir} (step {r.step})")
    evals = [h for h in r.history if "val_bleu" in h]
    speed = training.throughput(r.history) if r.step > start else {"tokens_per_s": None}
    res, hyps = training.test_scores(r.params, r.mcfg, data, cfg.beam, cfg.alpha, args.test_sentences or None)
    res = {"model": cfg.model, "lang": cfg.lang, "filter": cfg.filter, **res, "steps": r.step,
           "params": r.n_params, "train_seconds": r.train_seconds if r.step > start else None,
           "train_tok_s": speed["tokens_per_s"],
           "val_bleu": evals[-1]["val_bleu"] if evals else None}
    report(res, cfg.model)
    write_test_texts(out_dir, data, hyps, res["test_sentences"])
    write_atomic(out_dir / "test_results.json", json.dumps(res, indent=1))
    if args.export:
        size = save(args.export, r.params, dict(r.meta, step=r.step, test=res), "bfloat16")
        print(f"exported bf16 params to {args.export}: {size / 2**20:.1f} MiB")
    return res


def cmd_eval(args):
    from jaxseq.models.seq2seq import api, training
    params, mcfg, meta = api.restore(args.ckpt)
    cfg = training.Config.from_meta(meta["config"], beam=args.beam)
    data = training.prepare(cfg, args.data_dir, args.data)
    res, hyps = training.test_scores(params, mcfg, data, cfg.beam, cfg.alpha, args.test_sentences or None)
    res = {"model": cfg.model, **res}
    report(res, cfg.model)
    if args.out:
        out = Path(args.out)
        check_output_dir(out)
        write_test_texts(out, data, hyps, res["test_sentences"])
        write_atomic(out / "test_results.json", json.dumps(res, indent=1))
    return res


def cmd_translate(args):
    from jaxseq.models.seq2seq import api
    if args.text and not all(t.strip() for t in args.text):
        fail("--text got an empty sentence; give the text to translate")
    if args.beam < 1:
        fail(f"--beam {args.beam}: give an integer of at least 1 (1: greedy)")
    if args.output:
        out_path(args.output, "--output")
    tr = api.load(args.ckpt)
    if args.src:
        return translate_file(args, tr)

    def one(text):
        return tr.translate([text], beam=args.beam, alpha=args.alpha)

    for _, text, (out,) in each_output(text_lines(args.text, args.interactive), one, args.interactive):
        print(f"> {text}\n= {out}", flush=True)


def translate_file(args, tr):
    """--src FILE [--output FILE] [--ref FILE]: NMT's file translation (``nmt_luong.translate_file``:
    batched, empty lines kept, a bad line named by its number, BLEU/chrF against the references)."""
    from types import SimpleNamespace

    from nmt_luong import translate_file as nmt_translate_file
    opts = SimpleNamespace(src=args.src, ref=args.ref, output=args.output, n_best=1,
                           decode_batch=args.decode_batch)
    return nmt_translate_file(opts, SimpleNamespace(beam=args.beam, alpha=args.alpha, lang=tr.lang), tr)


def cmd_plot_attention(args):
    from jaxseq import nmt
    from jaxseq.models.seq2seq import api
    from jaxseq.viz.seq2seq import plot_attention_comparison
    path = out_path(args.out)
    tut = api.load(args.tutorial)
    if tut.name != "tutorial-attn":
        fail(f"--tutorial {args.tutorial} is a {tut.name} model; give a tutorial-attn checkpoint")
    luongs = [nmt.load(c) for c in args.luong]
    rows = []
    for text in args.text:
        (a,) = tut.translate([text], beam=1, return_attention=True)
        rows.append((a, [lu.translate([text], beam=1, return_attention=True)[0] for lu in luongs]))
    titles = [f"Luong global attention (filter {lu.meta.get('config', {}).get('filter', '?')}, step "
              f"{lu.meta.get('step', '?')})" for lu in luongs]
    plot_attention_comparison(path, rows, tut.cfg.max_length, titles)
    print(f"wrote {path}")


def main(argv=None):
    args = parse_args(argv)
    return {"train": cmd_train, "eval": cmd_eval, "translate": cmd_translate,
            "plot-attention": cmd_plot_attention}[args.cmd](args)


if __name__ == "__main__":
    run(main)
