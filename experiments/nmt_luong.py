"""Luong et al. 2015 attention NMT on the PyTorch-tutorial English-French pairs.

  python experiments/nmt_luong.py --lang eng-fra                 # train (small CPU config), test BLEU, plots
  python experiments/nmt_luong.py --lang fra-eng --filter none --config large   # GPU run, full data
  python experiments/nmt_luong.py --translate "i am cold ."       # uses the shipped ckpt/nmt_luong/eng-fra
  echo "you are tall ." | python experiments/nmt_luong.py --interactive
  python experiments/nmt_luong.py --cache .devcarry/eng-fra.txt.gz   # one compact data file, then exit

Training writes to runs/nmt_luong/<lang>-<filter> (resumes from it), never to the shipped ckpt/ folder.
From Python: `from jaxseq import nmt; nmt.load("eng-fra").translate(["i am cold ."])`.

GPU (H100), the four reported runs side by side, ~8 min (data carried as .devcarry/pytorch-tutorial/data.zip):
  export XLA_PYTHON_CLIENT_MEM_FRACTION=0.2
  for L in eng-fra fra-eng; do
    python experiments/nmt_luong.py --lang $L --filter tutorial --config large --steps 1500 \\
      --eval-every 500 --ckpt-every 500 --data-dir .devcarry --time-budget 6 &
    python experiments/nmt_luong.py --lang $L --filter none --config large --data-dir .devcarry \\
      --time-budget 6 $( [ $L = eng-fra ] && echo --export ckpt/nmt_luong/eng-fra ) &
  done; wait
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _cli import add_config_flags, add_time_budget, config_from_args, fail, parser, run, time_budget_s

from jaxseq.data.files import check_output_dir, require_kind, write_atomic
from jaxseq.paths import as_path, is_remote

ROOT = Path(__file__).resolve().parents[1]

HELP = {
    "lang": "translation direction", "filter": "tutorial: the tutorial's short 'i am/he is...' pairs "
    "(~10.5k); none: all 135k pairs",
    "min_count": "keep words seen at least this often in the training split; rarer ones become <unk>",
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
    from jaxseq.data.eng_fra import FILTERS
    from jaxseq.models.nmt.training import PRESETS, Config
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default="small", choices=sorted(PRESETS))
    preset = PRESETS.get(pre.parse_known_args(argv)[0].config, {})
    p = parser(__doc__)
    a = p.add_argument
    a("--config", default="small", choices=sorted(PRESETS),
      help="preset: small (CPU, minutes) or large (GPU); flags override it (--config large --help shows "
      "its values)")
    a("--data-dir", help="data root holding pytorch-tutorial/data.zip (else $JAXSEQ_DATA, the cache, "
      "or a download)")
    a("--data", help="explicit data file: data.zip, eng-fra.txt or eng-fra.txt.gz (e.g. from --cache)")
    a("--cache", metavar="PATH", help="write the pairs as one compact gzip file to PATH and exit")
    a("--out", help="training output / checkpoint dir (default runs/nmt_luong/<lang>-<filter>)")
    a("--ckpt", help="checkpoint dir or shipped name for --translate/--interactive/--eval-only "
      "(default: the shipped ckpt/nmt_luong/<lang>, else --out)")
    a("--translate", metavar="TEXT", action="append", help="translate TEXT (repeatable) and exit")
    a("--interactive", action="store_true", help="translate lines read from stdin")
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
                     choices={"lang": ["eng-fra", "fra-eng"], "filter": list(FILTERS)})
    args = p.parse_args(argv)
    cfg = config_from_args(Config, args)   # Config checks its values (ValueError naming the field)
    if args.test_sentences < 0:
        fail(f"--test-sentences {args.test_sentences}: give 0 (all) or a positive count")
    return args, cfg


def default_out(cfg):
    return ROOT / "runs" / "nmt_luong" / f"{cfg.lang}-{cfg.filter}"


def run_translate(args, cfg):
    from jaxseq import nmt
    from jaxseq.models.nmt.translate import SHIPPED
    from jaxseq.viz.nmt import plot_attention
    ckpt = args.ckpt or (cfg.lang if (SHIPPED / cfg.lang).is_dir() else args.out or default_out(cfg))
    if args.translate and not all(t.strip() for t in args.translate):
        fail("--translate got an empty sentence; give the text to translate")
    if args.attention_dir:
        check_output_dir(args.attention_dir)
    tr = nmt.load(ckpt)
    if tr.lang not in (None, cfg.lang):
        print(f"note: checkpoint {ckpt} translates {tr.lang}", file=sys.stderr)

    def lines():
        yield from args.translate or []
        if args.interactive:
            if sys.stdin.isatty():
                print("type a sentence per line, Ctrl-D to end", file=sys.stderr)
            yield from (ln.strip() for ln in sys.stdin if ln.strip())

    for i, text in enumerate(lines()):   # one at a time: each output appears as soon as its line is read
        try:
            (out,) = tr.translate([text], beam=cfg.beam, alpha=cfg.alpha, return_attention=True)
        except ValueError as e:
            if not args.interactive:
                raise
            print(f"skipped: {e}", file=sys.stderr)
            continue
        print(f"> {text}\n= {out.text}", flush=True)
        if args.attention_dir:
            path = plot_attention(Path(args.attention_dir) / f"{args.attention_prefix}_{i}.png",
                                  out.attention, out.source_tokens, out.target_tokens,
                                  title=f"{tr.lang or cfg.lang}, beam {cfg.beam}")
            print(f"  attention: {path}")


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
    hyps = {k: [" ".join(data.tgt_v.decode(h)) for h in v] for k, v in ids.items()}
    for name, lines in (("test_src", data.srcs["test"][:n]), ("test_ref", data.refs["test"][:n]),
                        ("test_beam", hyps["beam"]), ("test_greedy", hyps["greedy"])):
        write_atomic(out_dir / f"{name}.txt", "\n".join(lines) + "\n")
    print(f"test BLEU ({cfg.lang}, filter {cfg.filter}, {n} sentences): beam {cfg.beam} = "
          f"{res['bleu_beam']:.2f}, greedy = {res['bleu_greedy']:.2f}  [{res['seconds']:.1f}s]")
    examples = training.examples_from_test(data, ids["beam"])
    for _, src, ref, hyp in examples:
        print(f"  src: {src}\n  ref: {ref}\n  out: {hyp}")
    tr = Translator(params, mcfg, meta)
    for j, (i, src, ref, hyp) in enumerate(examples[:args.plots]):
        src_ids = data.enc["test"][i][0]
        plot_attention(out_dir / "plots" / f"attention_{j}.png", tr.attention(src_ids, ids["beam"][i]),
                       data.src_v.decode(src_ids), hyp.split(), title=f"ref: {ref}")
    if examples[:args.plots]:
        print(f"attention heatmaps in {out_dir / 'plots'}")
    write_atomic(out_dir / "test_results.json", json.dumps(res, indent=1))
    return res


def train(args, cfg, out_dir):
    import jax
    import numpy as np
    from jaxseq.data import eng_fra
    from jaxseq.data.batching import process_rows
    from jaxseq.models.nmt import model as nmt, training
    from jaxseq.training.checkpoint import Checkpointer
    from jaxseq.training.loop import fit, is_main_process
    budget = time_budget_s(args)
    data = training.prepare(cfg, args.data_dir, args.data)
    print(data.summary(cfg))
    mcfg = training.model_config(cfg, len(data.src_v), len(data.tgt_v))
    params = nmt.init(jax.random.PRNGKey(cfg.seed), mcfg)
    n_params = sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(params))
    print(f"model: {n_params / 1e6:.2f}M params, {mcfg}")
    n_dev = jax.device_count()   # every host's: --batch-size is the global batch
    if cfg.batch_size % n_dev:
        fail(f"--batch-size {cfg.batch_size} must divide over {n_dev} devices")
    batches = eng_fra.BucketedBatches(data.enc["train"], cfg.batch_size, seed=cfg.seed)
    print(f"{batches.batches_per_epoch()} batches/epoch, buckets {batches.bounds}; "
          f"{cfg.steps} steps = {cfg.steps / batches.batches_per_epoch():.1f} epochs")
    eval_fn, count = training.make_eval_fn(cfg, mcfg, data, batches.bounds, n_dev)
    meta = training.make_meta(cfg, mcfg, data)
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
    if args.translate or args.interactive:
        return run_translate(args, cfg)
    out_dir = as_path(args.out) if args.out else default_out(cfg)
    if not args.eval_only:
        return train(args, cfg, out_dir)
    from jaxseq.models.nmt import model as nmt, training
    from jaxseq.models.nmt.translate import resolve
    params, mcfg, meta = nmt.restore(resolve(args.ckpt or out_dir))
    cfg = training.Config.from_meta(meta["config"], beam=cfg.beam, alpha=cfg.alpha)
    from jaxseq.training.loop import is_main_process
    return test_report(params, mcfg, meta, training.prepare(cfg, args.data_dir, args.data), cfg, out_dir,
                       args, write=is_main_process())


if __name__ == "__main__":
    run(main)
