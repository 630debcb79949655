"""Luong et al. 2015 attention NMT on the PyTorch-tutorial English-French pairs.

  python experiments/nmt_luong.py --lang eng-fra                 # train (small CPU config), test BLEU, plots
  python experiments/nmt_luong.py --lang fra-eng --filter none --config large   # GPU run, full data
  python experiments/nmt_luong.py --translate "i am cold ."       # uses the shipped ckpt/nmt_luong/eng-fra
  echo "you are tall ." | python experiments/nmt_luong.py --interactive
  python experiments/nmt_luong.py --cache .devcarry/eng-fra.txt.gz   # one compact data file, then exit

Training writes to runs/nmt_luong/<lang>-<filter> (resumes from it), never to the shipped ckpt/ folder.

GPU (H100), the four reported runs side by side, ~8 min (data carried as .devcarry/pytorch-tutorial/data.zip):
  export XLA_PYTHON_CLIENT_MEM_FRACTION=0.2
  for L in eng-fra fra-eng; do
    python experiments/nmt_luong.py --lang $L --filter tutorial --config large --steps 1500 \
      --eval-every 500 --ckpt-every 500 --data-dir .devcarry --time-limit 6 &
    python experiments/nmt_luong.py --lang $L --filter none --config large --data-dir .devcarry \
      --time-limit 6 $( [ $L = eng-fra ] && echo --export ckpt/nmt_luong/eng-fra ) &
  done; wait
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Config:
    lang: str = "eng-fra"
    filter: str = "tutorial"
    min_count: int = 1
    split_seed: int = 0
    # model
    emb: int = 128
    hidden: int = 256
    layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = True
    score: str = "general"
    input_feed: bool = True
    dropout: float = 0.2
    ss: str = "none"
    ss_k: float | None = None     # None: the schedule's own k (linear 1, exponential 0.999, inv-sigmoid 1000)
    ss_c: float = 1e-4
    ss_min: float = 0.0
    bf16: bool = False
    unroll: int = 1
    # training
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    schedule: str = "cosine"
    warmup: int = 100
    clip_norm: float = 5.0
    seed: int = 0
    eval_every: int = 500
    ckpt_every: int = 500
    eval_sentences: int = 500
    beam: int = 5
    alpha: float = 1.0


CONFIGS = {
    # a few minutes on a 2-core CPU, tutorial filter
    "small": {},
    # GPU: ~8 min on an H100 per run (four can share one GPU); full data fits the shipped-size budget
    # (the exported bf16 params of eng-fra on all pairs are ~20 MiB)
    "large": dict(emb=256, hidden=384, layers=2, min_count=3, batch_size=256, steps=8000, lr=1.5e-3,
                  warmup=300, eval_every=2000, ckpt_every=1000, dropout=0.3),
}


HELP = {
    "min_count": "keep words seen at least this often in the training split; rarer ones become <unk>",
    "split_seed": "seed of the fixed 90/5/5 train/valid/test split (saved with the checkpoint)",
    "emb": "word embedding size", "hidden": "LSTM size (encoder: hidden/2 per direction if bidirectional)",
    "layers": "encoder and decoder layers", "cell": "encoder cell: lstm or gru (the decoder is an LSTM)",
    "bidirectional": "bidirectional encoder", "score": "Luong attention score: dot, general or concat",
    "input_feed": "feed the previous attentional state to the decoder (Luong 3.3)",
    "dropout": "dropout on embeddings, between layers and on the attentional state",
    "ss": "scheduled sampling schedule: none, linear, exponential, inverse_sigmoid",
    "ss_k": "scheduled sampling k; unset: the schedule's default (linear 1.0, exponential 0.999, "
            "inverse_sigmoid 1000; see jaxseq.scheduled_sampling)",
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
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = Config()
    a = p.add_argument
    a("--lang", default="eng-fra", choices=["eng-fra", "fra-eng"], help="translation direction")
    a("--config", default="small", choices=sorted(CONFIGS),
      help="preset: small (CPU, minutes) or large (GPU); flags below override it")
    a("--filter", choices=["tutorial", "none"], help="tutorial: the tutorial's short 'i am/he is...' "
      "pairs (~10.5k); none: all 135k pairs (default: tutorial)")
    a("--data-dir", help="data root holding pytorch-tutorial/data.zip (else $JAXSEQ_DATA, the cache, "
      "or a download)")
    a("--data", help="explicit data file: data.zip, eng-fra.txt or eng-fra.txt.gz (e.g. from --cache)")
    a("--cache", metavar="PATH", help="write the pairs as one compact gzip file to PATH and exit")
    a("--out", help="training output / checkpoint dir (default runs/nmt_luong/<lang>-<filter>)")
    a("--ckpt", help="checkpoint dir for --translate/--interactive/--eval-only (default: the shipped "
      "ckpt/nmt_luong/<lang>, else --out)")
    a("--translate", metavar="TEXT", action="append", help="translate TEXT (repeatable) and exit")
    a("--interactive", action="store_true", help="translate lines read from stdin")
    a("--eval-only", action="store_true", help="skip training: test BLEU and plots from --ckpt")
    a("--export", metavar="DIR", help="after training, save a params-only checkpoint (for shipping) "
      "to DIR")
    a("--export-dtype", default="bfloat16", choices=["float32", "bfloat16"],
      help="dtype of the exported params")
    a("--time-limit", type=float, default=0.0, metavar="MIN",
      help="stop training after MIN minutes (0: no limit) and finish from the last checkpoint "
      "(saved every --ckpt-every steps); a later run with the same --out resumes")
    a("--plots", type=int, default=3, help="number of test sentences with attention heatmaps")
    a("--attention-dir", metavar="DIR", help="with --translate/--interactive: also save an attention "
      "heatmap per sentence as DIR/<prefix>_<i>.png")
    a("--attention-prefix", default="attention", help="file name prefix for --attention-dir")
    for f in dataclasses.fields(Config):
        if f.name in ("lang", "filter"):
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool" or isinstance(f.default, bool):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                           help=f"{HELP[f.name]} (default {f.default})")
        else:
            big = CONFIGS["large"].get(f.name)
            typ = float if f.name == "ss_k" else type(f.default)    # ss_k defaults to None
            p.add_argument(flag, dest=f.name, type=typ, default=None,
                           help=f"{HELP[f.name]} (default {f.default}"
                           + ("" if big is None else f"; large: {big}") + ")")
    args = p.parse_args(argv)
    vals = dict(CONFIGS[args.config])
    for f in dataclasses.fields(Config):
        v = getattr(args, f.name, None)
        if v is not None:
            vals[f.name] = v
    vals["lang"], vals["filter"] = args.lang, args.filter or "tutorial"
    cfg = Config(**{**dataclasses.asdict(d), **vals})
    return args, cfg


def model_config(cfg: Config, src_vocab, tgt_vocab):
    from jaxseq.models.nmt.model import NMTConfig
    return NMTConfig(src_vocab=src_vocab, tgt_vocab=tgt_vocab, emb=cfg.emb, hidden=cfg.hidden,
                     layers=cfg.layers, cell=cfg.cell, bidirectional=cfg.bidirectional, score=cfg.score,
                     input_feed=cfg.input_feed, dropout=cfg.dropout, ss=cfg.ss, ss_k=cfg.ss_k,
                     ss_c=cfg.ss_c, ss_min=cfg.ss_min,
                     compute_dtype="bfloat16" if cfg.bf16 else "float32", unroll=cfg.unroll)


# ------------------------------------------------------------------------------------------ data
def prepare(cfg: Config, args):
    from jaxseq.data import eng_fra
    from jaxseq.data.vocab import Vocab
    pairs, report = eng_fra.load_pairs(args.data_dir, args.data, cfg.filter)
    print(f"data: {report}; {len(pairs)} pairs after filter {cfg.filter!r}")
    tok = eng_fra.orient(pairs, cfg.lang)
    sp = eng_fra.split(len(tok), cfg.split_seed)
    train = [tok[i] for i in sp["train"]]
    src_v = Vocab.build([s for s, _ in train], cfg.min_count)
    tgt_v = Vocab.build([t for _, t in train], cfg.min_count)
    print(f"split train/valid/test = {len(sp['train'])}/{len(sp['valid'])}/{len(sp['test'])}; "
          f"vocab src {len(src_v)}, tgt {len(tgt_v)} (min count {cfg.min_count})")
    enc = {k: eng_fra.encode_pairs([tok[i] for i in v], src_v, tgt_v) for k, v in sp.items()}
    refs = {k: [" ".join(tok[i][1]) for i in v] for k, v in sp.items()}
    srcs = {k: [" ".join(tok[i][0]) for i in v] for k, v in sp.items()}
    lengths = [max(len(s), len(t)) + 1 for s, t in tok]
    return dict(bounds=eng_fra.bucket_bounds(max(lengths)), tok=tok, split=sp, src_v=src_v, tgt_v=tgt_v,
                enc=enc, refs=refs, srcs=srcs,
                report=report)


# ----------------------------------------------------------------------------------- checkpoints
def load_model(ckpt_dir):
    from jaxseq.models.nmt import model as nmt
    try:
        return nmt.load(ckpt_dir)
    except FileNotFoundError as e:
        raise SystemExit(f"{e}; train first (python experiments/nmt_luong.py) or pass --ckpt DIR")


def export(params, meta, out_dir, dtype):
    from jaxseq.models.nmt import model as nmt
    size = nmt.save(out_dir, params, meta, dtype)
    print(f"exported params ({dtype}) to {out_dir}: {size / 2**20:.1f} MiB")


# ------------------------------------------------------------------------------------- translate
def translate_strings(params, mcfg, meta, texts, beam=5, alpha=1.0):
    from jaxseq.models.nmt import translate as decode
    from jaxseq.data.vocab import Vocab, tokenize
    src_v, tgt_v = Vocab.from_json(meta["src_vocab"]), Vocab.from_json(meta["tgt_vocab"])
    toks = [tokenize(t) for t in texts]
    ids = [src_v.encode(t) for t in toks]
    out = decode.translate_ids(params, mcfg, ids, beam=beam, alpha=alpha, batch_size=max(1, len(ids)))
    return toks, ids, [" ".join(tgt_v.decode(o)) for o in out], out


def plot_attention(params, mcfg, src_ids, out_ids, src_toks, out_toks, path, title=""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import jax.numpy as jnp
    from jaxseq.models.nmt import translate as decode
    from jaxseq.data.vocab import EOS_ID
    tgt = list(out_ids) + [EOS_ID]
    src = jnp.asarray([src_ids], jnp.int32)
    attn = np.asarray(decode.attention_for(params, mcfg, src, jnp.ones_like(src, jnp.float32),
                                           jnp.asarray([tgt], jnp.int32)))[0]
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(src_ids), 1 + 0.45 * len(tgt)))
    ax.imshow(attn, cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(src_ids)), list(src_toks) + ["<eos>"], rotation=60, ha="right")
    ax.set_yticks(range(len(tgt)), list(out_toks) + ["<eos>"])
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_translate(args, cfg):
    ckpt = args.ckpt or (ROOT / "ckpt" / "nmt_luong" / cfg.lang)
    if not args.ckpt and not Path(ckpt).exists():
        ckpt = args.out or default_out(cfg)
    params, mcfg, meta = load_model(ckpt)
    if meta.get("lang", cfg.lang) != cfg.lang:
        print(f"note: checkpoint {ckpt} translates {meta['lang']}")
    texts = list(args.translate or [])
    if args.interactive:
        if sys.stdin.isatty():
            print("type a sentence per line, Ctrl-D to end")
        texts += [ln.strip() for ln in sys.stdin if ln.strip()]
    if args.attention_dir:
        Path(args.attention_dir).mkdir(parents=True, exist_ok=True)
    for i, t in enumerate(texts):  # one at a time so each line's output appears in order, even interactively
        (toks,), (ids,), (hyp,), (out,) = translate_strings(params, mcfg, meta, [t], beam=cfg.beam,
                                                             alpha=cfg.alpha)
        print(f"> {t}\n= {hyp}")
        if args.attention_dir:
            path = Path(args.attention_dir) / f"{args.attention_prefix}_{i}.png"
            plot_attention(params, mcfg, ids, out, toks, hyp.split(), path,
                           title=f"{meta.get('lang', cfg.lang)}, beam {cfg.beam}")
            print(f"  attention: {path}")


# ------------------------------------------------------------------------------------------ train
class TimeUp(Exception):
    pass


def default_out(cfg):
    return ROOT / "runs" / "nmt_luong" / f"{cfg.lang}-{cfg.filter}"


def test_report(params, mcfg, data, cfg, out_dir, n_plots):
    from jaxseq.models.nmt import translate as decode
    t0 = time.perf_counter()
    kw = dict(batch_size=128, bounds=data["bounds"], max_len=data["bounds"][-1])
    hyp_ids = decode.translate_ids(params, mcfg, [s for s, _ in data["enc"]["test"]], beam=cfg.beam,
                                   alpha=cfg.alpha, **kw)
    hyps = [" ".join(data["tgt_v"].decode(h)) for h in hyp_ids]
    score = decode.bleu(hyps, data["refs"]["test"])
    greedy_ids = decode.translate_ids(params, mcfg, [s for s, _ in data["enc"]["test"]], beam=1, **kw)
    g_hyps = [" ".join(data["tgt_v"].decode(h)) for h in greedy_ids]
    g_score = decode.bleu(g_hyps, data["refs"]["test"])
    # the texts too, so BLEU can be computed elsewhere (e.g. `sacrebleu test_ref.txt < test_beam.txt`)
    Path(out_dir).mkdir(parents=True, exist_ok=True)   # --eval-only may name a fresh --out
    for name, lines in (("test_src", data["srcs"]["test"]), ("test_ref", data["refs"]["test"]),
                        ("test_beam", hyps), ("test_greedy", g_hyps)):
        (Path(out_dir) / f"{name}.txt").write_text("\n".join(lines) + "\n")
    n = len(hyps)
    print(f"test BLEU ({cfg.lang}, filter {cfg.filter}, {n} sentences): beam {cfg.beam} = "
          f"{score if score is None else round(score, 2)}, greedy = "
          f"{g_score if g_score is None else round(g_score, 2)}  [{time.perf_counter() - t0:.1f}s]")
    rng = np.random.default_rng(0)
    picks = rng.choice(n, size=min(8, n), replace=False)
    for i in picks:
        print(f"  src: {data['srcs']['test'][i]}\n  ref: {data['refs']['test'][i]}\n  out: {hyps[i]}")
    plot_dir = Path(out_dir) / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    for j, i in enumerate(picks[:n_plots]):
        src_ids = data["enc"]["test"][i][0]
        src_toks = data["src_v"].decode(src_ids)
        path = plot_dir / f"attention_{j}.png"
        plot_attention(params, mcfg, src_ids, hyp_ids[i], src_toks, data["tgt_v"].decode(hyp_ids[i]),
                       path, title=f"ref: {data['refs']['test'][i]}")
    if n_plots:
        print(f"attention heatmaps in {plot_dir}")
    res = {"lang": cfg.lang, "filter": cfg.filter, "test_sentences": n, "bleu_beam": score,
           "beam": cfg.beam, "bleu_greedy": g_score}
    (Path(out_dir) / "test_results.json").write_text(json.dumps(res, indent=1))
    return res


def main(argv=None):
    args, cfg = parse_args(argv)
    if args.cache:
        from jaxseq.data import eng_fra
        p = eng_fra.write_cache(args.cache, args.data_dir, args.data)
        print(f"wrote {p} ({p.stat().st_size / 2**20:.2f} MiB); use it with --data {p}")
        return
    if args.translate or args.interactive:
        return run_translate(args, cfg)

    import jax
    import jax.numpy as jnp
    from jaxseq.models.nmt import translate as decode
    from jaxseq.data import eng_fra
    from jaxseq.models.nmt import model as nmt
    from jaxseq.training.checkpoint import Checkpointer
    from jaxseq.training.loop import TrainConfig, fit, make_eval_step, evaluate

    out_dir = Path(args.out) if args.out else default_out(cfg)
    if args.eval_only:
        ck_dir = args.ckpt or out_dir
        params, mcfg, meta = load_model(ck_dir)
        cfg = Config(**{**dataclasses.asdict(cfg), **meta["config"], "beam": cfg.beam})
        data = prepare(cfg, args)
        return test_report(params, mcfg, data, cfg, out_dir, args.plots)

    data = prepare(cfg, args)
    mcfg = model_config(cfg, len(data["src_v"]), len(data["tgt_v"]))
    params = nmt.init(jax.random.PRNGKey(cfg.seed), mcfg)
    n_params = sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(params))
    print(f"model: {n_params / 1e6:.2f}M params, {mcfg}")
    n_dev = jax.local_device_count()
    if cfg.batch_size % n_dev:
        raise SystemExit(f"--batch-size {cfg.batch_size} must divide over {n_dev} devices")
    batches = eng_fra.BucketedBatches(data["enc"]["train"], cfg.batch_size, seed=cfg.seed)
    print(f"{batches.batches_per_epoch()} batches/epoch, buckets {batches.bounds}; "
          f"{cfg.steps} steps = {cfg.steps / batches.batches_per_epoch():.1f} epochs")
    tokens = {"n": 0, "t": time.perf_counter()}

    t_start = time.perf_counter()

    def batch_fn(step):
        if args.time_limit and time.perf_counter() - t_start > 60 * args.time_limit:
            raise TimeUp(step)
        b = batches(step)
        tokens["n"] += int(b["tgt_mask"].sum())
        b["step"] = np.full((cfg.batch_size,), step, np.int32)
        return b

    loss = nmt.make_loss(mcfg)
    eval_step = make_eval_step(lambda p, b, k: nmt.loss_fn(p, mcfg, b, None))
    val_enc = data["enc"]["valid"][:cfg.eval_sentences]
    val_refs = data["refs"]["valid"][:cfg.eval_sentences]
    eval_bs = max(n_dev, min(cfg.batch_size, 128) // n_dev * n_dev)

    def eval_fn(p, step):
        tok_s = tokens["n"] / (time.perf_counter() - tokens["t"])
        val = evaluate(eval_step, p, (b for _, b in eng_fra.eval_batches(val_enc, eval_bs,
                                                                             batches.bounds)),
                       jax.random.PRNGKey(0))
        hyp = decode.translate_ids(p, mcfg, [s for s, _ in val_enc], beam=1, batch_size=eval_bs,
                                   bounds=batches.bounds, max_len=batches.bounds[-1])
        b = decode.bleu([" ".join(data["tgt_v"].decode(h)) for h in hyp], val_refs)
        tokens["n"], tokens["t"] = 0, time.perf_counter()
        return {"loss": val["loss"], "acc": val["acc"], "bleu": b if b is not None else float("nan"),
                "train_tok_s": tok_s}

    meta = {"lang": cfg.lang, "config": dataclasses.asdict(cfg), "model": mcfg.to_json(),
            "src_vocab": data["src_v"].to_json(), "tgt_vocab": data["tgt_v"].to_json(),
            "split": {"seed": cfg.split_seed, "fractions": [0.9, 0.05, 0.05], "filter": cfg.filter,
                      "n_pairs": len(data["tok"]), "test_indices": data["split"]["test"].tolist()},
            "data_report": {"lines": data["report"].lines, "bad": data["report"].bad}}
    ck = Checkpointer(out_dir, keep=2, best_metric="val_bleu", best_mode="max")
    tcfg = TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule=cfg.schedule, warmup=cfg.warmup,
                       min_lr=cfg.lr * 0.05, clip_norm=cfg.clip_norm, seed=cfg.seed,
                       eval_every=cfg.eval_every, ckpt_every=cfg.ckpt_every, log_every=50)
    t0 = time.perf_counter()
    try:
        if (ck.latest_step() or 0) >= cfg.steps:  # finished before: evaluate it, do not re-save
            raise TimeUp(ck.latest_step())
        params, hist = fit(loss, params, batch_fn, tcfg, eval_fn=eval_fn, ckpt=ck, meta=meta)
        (out_dir / "history.json").write_text(json.dumps(hist, indent=0))
        step_done = cfg.steps
    except TimeUp as e:
        print(f"\ntraining already finished or time limit of {args.time_limit} min reached at step {e.args[0]}; using the last "
              f"checkpoint (rerun the same command to resume)")
        step_done = ck.latest_step()
        if step_done is None:
            raise SystemExit("no checkpoint was saved before the time limit; lower --ckpt-every")
        params, _, _ = ck.restore(step_done, params_like=params)
    ck.close()
    print(f"training stopped at step {step_done} after {time.perf_counter() - t0:.0f}s; checkpoints in "
          f"{out_dir}")
    res = test_report(params, mcfg, data, cfg, out_dir, args.plots)
    res["steps"] = step_done
    (out_dir / "test_results.json").write_text(json.dumps(res, indent=1))
    if args.export:
        export(params, dict(meta, step=step_done, test=res), args.export, args.export_dtype)
    return res


if __name__ == "__main__":
    from _cli import run
    run(main)
