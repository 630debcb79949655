"""Luong et al. 2015 attention NMT on the PyTorch-tutorial English-French pairs.

  python experiments/nmt_luong.py --translate "Where is the station?"   # the shipped ckpt/nmt_luong/eng-fra
  python experiments/nmt_luong.py --lang fra-eng --translate "Où est la gare ?"     # ckpt/nmt_luong/fra-eng
  echo "You are tall." | python experiments/nmt_luong.py --interactive
  python experiments/nmt_luong.py --src in.en --output out.fr --ref ref.fr --beam 5   # a file; BLEU, chrF
  python experiments/nmt_luong.py --lang eng-fra --config truecase   # train the shipped true-case model (GPU)
  python experiments/nmt_luong.py --lang eng-fra                 # tutorial text, small CPU config, test BLEU
  python experiments/nmt_luong.py --lang fra-eng --filter none --config large   # tutorial text, GPU, full data
  python experiments/nmt_luong.py --cache .devcarry/eng-fra.txt.gz   # one compact data file, then exit

Training writes to runs/nmt_luong/<lang>-<filter> (resumes from it), never to the shipped ckpt/ folder.
From Python: `from jaxseq import nmt; nmt.load("eng-fra").translate(["i am cold ."])`.

GPU (H100), the four tutorial-text runs of docs/results_nmt.md side by side, ~8 min:
  export XLA_PYTHON_CLIENT_MEM_FRACTION=0.2
  for L in eng-fra fra-eng; do
    python experiments/nmt_luong.py --lang $L --filter tutorial --config large --steps 1500 \\
      --eval-every 500 --ckpt-every 500 --data-dir .devcarry --time-budget 6 &
    python experiments/nmt_luong.py --lang $L --filter none --config large --data-dir .devcarry --time-budget 6 &
  done; wait
The shipped true-case models: --config truecase --time-budget 4.3 --export ckpt/nmt_luong/$L (both at once).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _cli import (add_config_flags, add_time_budget, config_from_args, each_output, fail, parser,
                  print_params, run, text_lines, time_budget_s)

from jaxseq.data.files import check_output_dir, require_kind, write_atomic
from jaxseq.paths import as_path, is_remote

ROOT = Path(__file__).resolve().parents[1]

HELP = {
    "lang": "translation direction", "filter": "tutorial: the tutorial's short 'i am/he is...' pairs "
    "(~10.5k); none: all 135k pairs",
    "text": "tutorial: normalised lower-case words without accents, split by pair (the seed's setup); "
            "truecase: raw text in and out, joint SentencePiece subwords trained on the training split, "
            "a split with no source sentence shared with training",
    "min_count": "(tutorial text) keep words seen at least this often in the training split; rarer ones "
                 "become <unk>",
    "vocab_size": "(truecase text) joint subword vocabulary size",
    "max_tokens": "(truecase text) skip training pairs with a side longer than this many subwords",
    "pad_to": "(truecase text) pad every training batch to this many tokens: one compiled train step "
              "(0: length buckets, one compilation each); needs --max-tokens <= it",
    "tied": "one embedding table for source, target and output (needs truecase text: one joint vocab)",
    "split_seed": "seed of the fixed 90/5/5 train/valid/test split (saved with the checkpoint)",
    "emb": "word embedding size", "hidden": "LSTM size (encoder: hidden/2 per direction if bidirectional)",
    "layers": "encoder and decoder layers", "cell": "encoder cell: lstm or gru (the decoder is an LSTM)",
    "bidirectional": "bidirectional encoder", "score": "Luong attention score",
    "input_feed": "feed the previous attentional state to the decoder (Luong 3.3)",
    "dropout": "dropout on embeddings, between layers and on the attentional state",
    "ss": "scheduled sampling schedule: none, linear, exponential, inverse_sigmoid",
    "ss_k": "scheduled sampling k; unset: the schedule's default (linear 1.0, exponential 0.999, "
            "inverse_sigmoid 1000; see jaxseq.training.schedules)",
    "ss_c": "linear schedule slope c: eps = k - c * step",
    "ss_min": "floor of the teacher-forcing probability", "bf16": "bfloat16 compute (losses float32)",
    "unroll": "lax.scan unroll factor (GPU speed knob)", "steps": "training steps",
    "batch_size": "sentence pairs per step", "lr": "peak Adam learning rate",
    "schedule": "learning-rate schedule: constant, cosine, exponential", "warmup": "linear warm-up steps",
    "clip_norm": "global gradient-norm clip", "seed": "seed of initialisation, batches and dropout",
    "eval_every": "validation loss/accuracy/greedy BLEU every N steps",
    "ckpt_every": "checkpoint every N steps", "eval_sentences": "validation sentences decoded per eval",
    "beam": "beam size for test BLEU and translation (1: greedy)",
    "alpha": "length normalisation: score / length**alpha",
}


def parse_args(argv=None):
    from jaxseq.data.eng_fra import FILTERS, TEXTS
    from jaxseq.models.nmt.training import PRESETS, Config
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default="small", choices=sorted(PRESETS))
    preset = PRESETS.get(pre.parse_known_args(argv)[0].config, {})
    p = parser(__doc__)
    a = p.add_argument
    a("--config", default="small", choices=sorted(PRESETS),
      help="preset: small (CPU, minutes), large (GPU, tutorial text) or truecase (GPU, the shipped "
      "raw-text subword models); flags override it (--config truecase --help shows its values)")
    a("--data-dir", help="data root holding pytorch-tutorial/data.zip (else $JAXSEQ_DATA, the cache, "
      "or a download)")
    a("--data", help="explicit data file: data.zip, eng-fra.txt or eng-fra.txt.gz (e.g. from --cache)")
    a("--cache", metavar="PATH", help="write the pairs as one compact gzip file to PATH and exit")
    a("--out", help="training output / checkpoint dir (default runs/nmt_luong/<lang>-<filter>)")
    a("--ckpt", help="checkpoint dir or shipped name for --translate/--interactive/--eval-only "
      "(default: the shipped ckpt/nmt_luong/<lang>, else --out)")
    a("--init-from", metavar="CKPT", help="start a new run from the params of this checkpoint (an export "
      "or run dir, or a shipped name; same model config; fresh optimizer, step 0): training continued on "
      "another device lease. A run already in --out resumes instead")
    a("--subword-model", metavar="FILE", help="(truecase text) a SentencePiece model to use instead of "
      "training one on the training split (train it on that split only: jaxseq.data.subword.train)")
    a("--translate", metavar="TEXT", action="append", help="translate TEXT (repeatable) and exit")
    a("--interactive", action="store_true", help="translate lines read from stdin")
    a("--src", metavar="FILE", help="translate every line of FILE (batched, like onmt_translate) and exit")
    a("--output", metavar="FILE", help="with --src: write the translations here, one a line (default: "
      "stdout)")
    a("--ref", metavar="FILE", help="with --src: reference translations, one a line: print BLEU and chrF "
      "(sacreBLEU defaults)")
    a("--n-best", type=int, default=1, help="with --src: write the N best beam hypotheses of each line, "
      "N lines per source (N <= --beam); BLEU uses the best")
    a("--decode-batch", type=int, default=64, help="with --src: sentences decoded at once")
    a("--eval-only", action="store_true", help="skip training: test BLEU and plots from --ckpt")
    a("--test-sentences", type=int, default=0, help="decode only the first N test pairs (0: all)")
    a("--export", metavar="DIR", help="after training, save a params-only checkpoint (for shipping) to DIR")
    a("--export-dtype", default="bfloat16", choices=["float32", "bfloat16"],
      help="dtype of the exported params")
    add_time_budget(p)
    a("--plots", type=int, default=3, help="number of test sentences with attention heatmaps")
    a("--attention-dir", metavar="DIR", help="with --translate/--interactive: also save an attention "
      "heatmap per sentence as DIR/<prefix>_<i>.png")
    a("--attention-prefix", default="attention", help="file name prefix for --attention-dir")
    add_config_flags(p, Config, help=HELP, defaults=preset,
                     choices={"lang": ["eng-fra", "fra-eng"], "filter": list(FILTERS), "text": list(TEXTS)})
    args = p.parse_args(argv)
    cfg = config_from_args(Config, args)   # Config checks its values (ValueError naming the field)
    if args.test_sentences < 0:
        fail(f"--test-sentences {args.test_sentences}: give 0 (all) or a positive count")
    if args.n_best < 1 or args.n_best > cfg.beam:
        fail(f"--n-best {args.n_best}: give 1 to --beam ({cfg.beam}) hypotheses")
    if args.decode_batch < 1:
        fail(f"--decode-batch {args.decode_batch}: give at least 1")
    for flag in ("output", "ref"):
        if getattr(args, flag) and not args.src:
            fail(f"--{flag} needs --src FILE (the sentences to translate)")
    if args.src and (args.translate or args.interactive):
        fail("--src translates a file; give it without --translate/--interactive")
    return args, cfg


def default_out(cfg):
    return ROOT / "runs" / "nmt_luong" / (f"{cfg.lang}-{cfg.filter}"
                                          + ("-truecase" if cfg.text == "truecase" else ""))


def checkpoint_for(args, cfg):
    """--ckpt, else the shipped model of --lang, else the training run of these flags; a clear error
    naming the direction when there is none."""
    from jaxseq.models.nmt.translate import SHIPPED
    if args.ckpt:
        return args.ckpt
    if (SHIPPED / cfg.lang).is_dir():
        return cfg.lang
    run_dir = as_path(args.out) if args.out else default_out(cfg)
    if run_dir.is_dir():
        return run_dir
    shipped = sorted(d.name for d in SHIPPED.iterdir()) if SHIPPED.is_dir() else []
    fail(f"no {cfg.lang} model: none shipped in {SHIPPED} (shipped: {', '.join(shipped) or 'none'}) and "
         f"no training run in {run_dir}; train one with `python experiments/nmt_luong.py --lang {cfg.lang} "
         f"--config truecase` or give --ckpt DIR")


def read_lines(path, what):
    p = Path(path)
    if not p.is_file():
        fail(f"{what} {p} " + ("is a folder" if p.exists() else "does not exist"))
    try:
        return p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        fail(f"{what} {p} is not UTF-8 text ({e})")


def translate_file(args, cfg, tr):
    """--src FILE [--output FILE] [--ref FILE]: every line, batched and jitted, with a progress bar.
    Empty lines stay empty. Prints BLEU and chrF with --ref."""
    import time

    from tqdm import tqdm

    from jaxseq import metrics
    from jaxseq.data.vocab import normalise
    src = read_lines(args.src, "--src")
    refs = read_lines(args.ref, "--ref") if args.ref else None
    if refs is not None and len(refs) != len(src):
        fail(f"--ref {args.ref} has {len(refs)} lines but --src {args.src} has {len(src)}; give one "
             f"reference a line")
    todo = [i for i, t in enumerate(src) if t.strip()]
    if not todo:
        fail(f"--src {args.src} has no text to translate")
    for i in todo:   # a bad line is named by its number before any decoding
        try:
            tr.check([src[i]], cfg.beam, cfg.alpha)
        except ValueError as e:
            fail(f"{args.src}:{i + 1}: {e}")
    kw = dict(beam=cfg.beam, alpha=cfg.alpha, batch_size=args.decode_batch)
    t0 = time.perf_counter()
    with tqdm(total=len(todo), unit="sent", desc=f"translating ({tr.lang or cfg.lang}, beam {cfg.beam})",
              file=sys.stderr, disable=None) as bar:
        texts = [src[i] for i in todo]
        if args.n_best > 1:
            nbest = tr.translate_n_best(texts, args.n_best, progress=bar.update, **kw)
            best = [h[0][0] for h in nbest]
        else:
            best = tr.translate(texts, progress=bar.update, **kw)
            nbest = [[(b, None)] for b in best]
    secs = time.perf_counter() - t0
    out = [[""] * args.n_best for _ in src]
    hyps = [""] * len(src)
    for i, b, hs in zip(todo, best, nbest):
        hyps[i] = b
        out[i] = [h for h, _ in hs]
    text = "".join(h + "\n" for row in out for h in row)
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    msg = f"translated {len(todo)} sentences in {secs:.1f} s ({len(todo) / secs:.1f} sentences/s)"
    print(msg + (f"; wrote {args.output}" if args.output else ""), file=sys.stderr)
    if refs is None:
        return {"sentences": len(todo), "seconds": secs}
    if not tr.truecase:   # a tutorial model writes normalised words: score against normalised references
        refs = [normalise(r) for r in refs]
    res = {"sentences": len(src), "bleu": metrics.bleu(hyps, refs), "chrf": metrics.chrf(hyps, refs),
           "seconds": secs, "sent_per_s": len(todo) / secs}
    print(f"BLEU = {res['bleu']:.2f}  chrF = {res['chrf']:.2f}  ({len(src)} sentences, sacreBLEU "
          f"defaults{'' if tr.truecase else ', references normalised like the model'})")
    return res


def run_translate(args, cfg):
    from jaxseq import nmt
    from jaxseq.viz.nmt import plot_attention
    ckpt = checkpoint_for(args, cfg)
    if args.translate and not all(t.strip() for t in args.translate):
        fail("--translate got an empty sentence; give the text to translate")
    if args.attention_dir:
        check_output_dir(args.attention_dir)
    if args.output and not is_remote(as_path(args.output)):
        check_output_dir(Path(args.output).parent)
    tr = nmt.load(ckpt)
    if tr.lang not in (None, cfg.lang):
        print(f"note: checkpoint {ckpt} translates {tr.lang}", file=sys.stderr)
    if args.src:
        return translate_file(args, cfg, tr)

    def one(text):
        (out,) = tr.translate([text], beam=cfg.beam, alpha=cfg.alpha, return_attention=True)
        return out

    # one at a time: each output appears as soon as its line is read
    for i, text, out in each_output(text_lines(args.translate, args.interactive), one, args.interactive):
        print(f"> {text}\n= {out.text}", flush=True)
        if args.attention_dir:
            path = plot_attention(Path(args.attention_dir) / f"{args.attention_prefix}_{i}.png",
                                  out.attention, out.source_tokens, out.target_tokens,
                                  title=f"{tr.lang or cfg.lang}, beam {cfg.beam}")
            print(f"  attention: {path}")


def write_test_texts(out_dir, data, hyps, n):
    """test_src/ref/beam/greedy.txt of the first ``n`` test pairs (``hyps``: {"beam"/"greedy": strings})."""
    for name, lines in (("test_src", data.srcs["test"][:n]), ("test_ref", data.refs["test"][:n]),
                        ("test_beam", hyps["beam"]), ("test_greedy", hyps["greedy"])):
        write_atomic(out_dir / f"{name}.txt", "\n".join(lines) + "\n")


def test_report(params, mcfg, meta, data, cfg, out_dir, args, write=True):
    """Test BLEU (on every process); with ``write`` (process 0) also the texts and plots in ``out_dir``."""
    from jaxseq.models.nmt import training
    from jaxseq.models.nmt.translate import Translator
    from jaxseq.viz.nmt import plot_attention
    res, ids = training.bleu_on_test(params, mcfg, data, cfg.beam, cfg.alpha, args.test_sentences or None)
    res = {"lang": cfg.lang, "filter": cfg.filter, **res}
    if not write:
        return res
    out_dir.mkdir(parents=True, exist_ok=True)   # --eval-only may name a fresh --out
    # the texts too, so BLEU can be computed elsewhere (e.g. `sacrebleu test_ref.txt < test_beam.txt`)
    n = res["test_sentences"]
    write_test_texts(out_dir, data, {k: [data.text(h) for h in v] for k, v in ids.items()}, n)
    print(f"test BLEU ({cfg.lang}, filter {cfg.filter}, {n} sentences): beam {cfg.beam} = "
          f"{res['bleu_beam']:.2f}, greedy = {res['bleu_greedy']:.2f}; chrF beam {res['chrf_beam']:.2f}, "
          f"greedy {res['chrf_greedy']:.2f}  [{res['seconds']:.1f}s: {res['sent_per_s_beam']:.1f} "
          f"sentences/s beam, {res['sent_per_s_greedy']:.1f} greedy]")
    examples = training.examples_from_test(data, ids["beam"])
    for _, src, ref, hyp in examples:
        print(f"  src: {src}\n  ref: {ref}\n  out: {hyp}")
    tr = Translator(params, mcfg, meta)
    for j, (i, src, ref, hyp) in enumerate(examples[:args.plots]):
        src_ids = data.enc["test"][i][0]
        plot_attention(out_dir / "plots" / f"attention_{j}.png", tr.attention(src_ids, ids["beam"][i]),
                       data.src_v.decode(src_ids), data.tgt_v.decode(ids["beam"][i]), title=f"ref: {ref}")
    if examples[:args.plots]:
        print(f"attention heatmaps in {out_dir / 'plots'}")
    write_atomic(out_dir / "test_results.json", json.dumps(res, indent=1))
    return res


def train(args, cfg, out_dir):
    import jax
    from jaxseq.data import eng_fra
    from jaxseq.data.batching import process_rows
    from jaxseq.models.nmt import model as nmt, training
    from jaxseq.training.checkpoint import Checkpointer
    from jaxseq.training.loop import fit, is_main_process
    budget = time_budget_s(args)
    data = training.prepare(cfg, args.data_dir, args.data, subword_for(args, cfg, out_dir))
    print(data.summary(cfg))
    mcfg = training.model_config(cfg, len(data.src_v), len(data.tgt_v))
    params = nmt.init(jax.random.PRNGKey(cfg.seed), mcfg)
    meta = training.make_meta(cfg, mcfg, data)
    init = init_params(args, mcfg, out_dir)
    if init is not None:
        params, meta["init_from"] = init
        print(f"initialised from {meta['init_from']['dir']} (step {meta['init_from']['step']}); fresh "
              f"optimizer, step 0")
    print_params(params, mcfg)
    n_dev = jax.device_count()   # every host's: --batch-size is the global batch
    if cfg.batch_size % n_dev:
        fail(f"--batch-size {cfg.batch_size} must divide over {n_dev} devices")
    batches = eng_fra.BucketedBatches(data.enc["train"], cfg.batch_size, seed=cfg.seed,
                                      bounds=[cfg.pad_to] if cfg.pad_to else None)
    print(f"{batches.batches_per_epoch()} batches/epoch, buckets {batches.bounds}; "
          f"{cfg.steps} steps = {cfg.steps / batches.batches_per_epoch():.1f} epochs")
    eval_fn, count = training.make_eval_fn(cfg, mcfg, data, data.bounds if cfg.pad_to else batches.bounds,
                                           n_dev)   # validation pairs may be longer than --pad-to
    ck = Checkpointer(out_dir, keep=2, best_metric="val_bleu", best_mode="max")
    start = ck.latest_step() or 0
    try:
        if start:   # resuming: only an NMT run
            require_kind(out_dir, ck.read_meta(), "NMT")
        params, hist = fit(nmt.make_loss(mcfg), params, lambda s: process_rows(count(batches(s))),  # own rows
                           training.train_config(cfg), eval_fn=eval_fn, ckpt=ck, meta=meta,
                           time_budget_s=budget)
        step_done = ck.latest_step()
    finally:
        ck.close()
    main = is_main_process()   # process 0 writes; every process tests and saves the export
    if step_done > start and main:   # this chunk's rows after the earlier chunks' rows
        from jaxseq.training.checkpoint import write_history
        write_history(out_dir, hist)
    if step_done < cfg.steps:
        print(f"stopped early at step {step_done} ({(hist.stopped or 'time budget').replace('_', ' ')}); "
              f"rerun the same command to resume")
    print(f"checkpoints in {out_dir} (step {step_done})")
    if hist.stopped == "preempted":   # the VM is going away: no test decoding, no export
        return {"steps": step_done, "stopped": hist.stopped}
    res = dict(test_report(params, mcfg, meta, data, cfg, out_dir, args, write=main), steps=step_done)
    if main:
        write_atomic(out_dir / "test_results.json", json.dumps(res, indent=1))
    if args.export:   # an Orbax save: every process takes part
        size = nmt.save(args.export, params, dict(meta, step=step_done, test=res), args.export_dtype)
        print(f"exported params ({args.export_dtype}) to {args.export}: {size / 2**20:.1f} MiB")
    return res


def main(argv=None):
    args, cfg = parse_args(argv)
    for path in (args.out, args.export, args.cache and Path(args.cache).parent):
        if path and not is_remote(as_path(path)):   # a bad output folder fails now, not after the work
            check_output_dir(path)                  # (a gs:// one: an error now if gcsfs is missing)
    if args.cache:
        from jaxseq.data import eng_fra
        if Path(args.cache).is_dir():
            fail(f"--cache {args.cache} is a folder; give a file name")
        p = eng_fra.write_cache(args.cache, args.data_dir, args.data)
        print(f"wrote {p} ({p.stat().st_size / 2**20:.2f} MiB); use it with --data {p}")
        return
    if args.translate or args.interactive or args.src:
        return run_translate(args, cfg)
    out_dir = as_path(args.out) if args.out else default_out(cfg)
    if not args.eval_only:
        return train(args, cfg, out_dir)
    from jaxseq.models.nmt import model as nmt, training
    from jaxseq.models.nmt.translate import resolve
    params, mcfg, meta = nmt.restore(resolve(args.ckpt or out_dir))
    cfg = training.Config.from_meta(meta["config"], beam=cfg.beam, alpha=cfg.alpha)
    from jaxseq.training.loop import is_main_process
    sw = bytes_of_subword(meta)
    return test_report(params, mcfg, meta, training.prepare(cfg, args.data_dir, args.data, sw), cfg,
                       out_dir, args, write=is_main_process())


def has_run(out_dir):
    from jaxseq.training.checkpoint import Checkpointer
    if not as_path(out_dir).is_dir():
        return None
    ck = Checkpointer(out_dir, create=False)
    try:
        return ck.read_meta() if ck.latest_step() is not None else None
    finally:
        ck.close()


def init_params(args, mcfg, out_dir):
    """``(params, {"dir", "step"})`` from --init-from for a new run (None without it, or when --out
    already holds a run, which resumes). The model config must be the same (dropout and speed knobs
    aside)."""
    if not args.init_from or has_run(out_dir) is not None:
        return None
    import dataclasses

    from jaxseq.models.nmt import model as nmt
    from jaxseq.models.nmt.translate import resolve
    src = resolve(args.init_from)
    params, cfg0, meta0 = nmt.restore(src)
    loose = dict(dropout=mcfg.dropout, unroll=mcfg.unroll, compute_dtype=mcfg.compute_dtype)
    if dataclasses.replace(cfg0, **loose) != mcfg:
        diff = [f"{k}: {v!r} there, {getattr(mcfg, k)!r} here" for k, v in dataclasses.asdict(cfg0).items()
                if k not in loose and getattr(mcfg, k) != v]
        fail(f"--init-from {src}: its model differs from this run's ({'; '.join(diff)}); give the flags "
             f"it was trained with")
    return params, {"dir": str(src), "step": int(meta0.get("step", 0))}


def bytes_of_subword(meta):
    """The subword model stored in a checkpoint's meta (None for a word-level model)."""
    import base64
    return base64.b64decode(meta["subword"]) if meta.get("subword") else None


def subword_for(args, cfg, out_dir):
    """The subword model of a true-case run: the one stored in a run being resumed, else
    --subword-model, else None (train one on the training split)."""
    if cfg.text != "truecase":
        if args.subword_model:
            fail("--subword-model is for --text truecase")
        return None
    old = has_run(out_dir)
    if old is not None:
        return bytes_of_subword(old)
    if args.init_from:   # the subwords the params were trained with
        from jaxseq.models.nmt.translate import resolve
        from jaxseq.training.checkpoint import Checkpointer
        ck = Checkpointer(resolve(args.init_from), create=False)
        try:
            sw = bytes_of_subword(ck.read_meta())
        finally:
            ck.close()
        if sw is None:
            fail(f"--init-from {args.init_from} is not a true-case (subword) checkpoint")
        return sw
    if args.subword_model:
        return read_model(args.subword_model)
    return None


def read_model(path):
    p = Path(path)
    if not p.is_file():
        fail(f"--subword-model {p} " + ("is a folder" if p.exists() else "does not exist"))
    return p.read_bytes()


if __name__ == "__main__":
    run(main)
