"""Graves (2013) handwriting: train the prediction / synthesis networks on IAM-OnDB, evaluate, generate.

    python experiments/handwriting.py train --task synthesis --steps 6000 --time-budget 8 \
        --cache .cache/iam/iam_lines.npz --ckpt-dir runs/hw_synthesis
    python experiments/handwriting.py eval --ckpt runs/hw_synthesis --cache .cache/iam/iam_lines.npz
    python experiments/handwriting.py generate --text "hello world" --bias 1.0 --n 8 --out out/hello.svg
    python experiments/handwriting.py generate --text "style transfer" --style 3 --out out/style.png
    python experiments/handwriting.py generate --task prediction --n 8 --out out/scribbles.png
    python experiments/handwriting.py plot --ckpt runs/hw_synthesis --cache .cache/iam/iam_lines.npz \
        --out out/hw_plots
    python experiments/handwriting.py export --ckpt runs/hw_synthesis --out ckpt/handwriting_synthesis
    python experiments/handwriting.py train --task synthesis --init-from ckpt/handwriting_synthesis \
        --lr 3e-4 --steps 5000 --ckpt-dir runs/hw_synthesis_ft      # continue the shipped net

``generate`` needs no data: the shipped checkpoints (``ckpt/handwriting_synthesis``,
``ckpt/handwriting_prediction``) hold the params, config, charset, data scale and 8 real priming lines.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.models.handwriting import model as hw
from jaxseq.models.handwriting import sample as hw_sample
from jaxseq.models.handwriting import training as hw_train
from jaxseq.data.charset import Charset
from jaxseq.training.checkpoint import Checkpointer, load_for_sampling
from jaxseq.data.batching import split_indices
from jaxseq.training.loop import TrainConfig, evaluate, make_eval_step

DEFAULT_CKPT = {"synthesis": "ckpt/handwriting_synthesis", "prediction": "ckpt/handwriting_prediction"}
SAMPLE_TEXTS = ["hello world", "a quick brown fox", "handwriting in jax", "sequence generation"]


# ---------------------------------------------------------------------------------------------- data
@dataclasses.dataclass
class Lines:
    """What training needs from ``jaxseq.data.iam.IamLines`` (or the synthetic stand-in)."""
    strokes: list
    texts: list
    writers: list
    is_valid: np.ndarray
    scale: float


def synthetic_lines(n, seed=0):
    """Random 'handwriting' with texts (each character a short wiggle): for smoke tests without data."""
    rng = np.random.default_rng(seed)
    alphabet = "abcde "
    strokes, texts = [], []
    for _ in range(n):
        text = "".join(rng.choice(list(alphabet), size=rng.integers(2, 6)))
        pts = []
        for ch in text:
            k = alphabet.index(ch)
            t = np.linspace(0, 2 * np.pi, 6)
            seg = np.stack([0.3 + 0.1 * np.cos(t * (k + 1)), 0.4 * np.sin(t + k), np.zeros(6)], -1)
            seg[-1, 2] = 1.0
            pts.append(seg + rng.normal(0, 0.02, seg.shape) * [1, 1, 0])
        strokes.append(np.concatenate(pts).astype(np.float32))
        texts.append(text)
    valid = np.zeros(n, bool)
    valid[split_indices(n, [0.8, 0.2], seed)[1]] = True
    return Lines(strokes, texts, [f"w{i % 5}" for i in range(n)], valid, 1.0)


def load_lines(a) -> Lines:
    if getattr(a, "synthetic", 0):
        return synthetic_lines(a.synthetic, a.seed)
    from jaxseq import iam  # the IAM-OnDB pipeline (parses the archives or reads the compact cache)
    cache = Path(a.cache) if a.cache else None
    if cache is not None and cache.exists():
        lines = iam.load_cache(cache)
    else:
        lines = iam.load(data_dir=a.data_dir or None, cache_path=cache)
    writers = getattr(lines, "writers", None)
    writers = list(range(len(lines.strokes))) if writers is None else list(writers)
    return Lines(list(lines.strokes), list(lines.texts), writers, np.asarray(lines.is_valid, bool),
                 float(lines.scale))


def _bucket(n, b=8):
    return int(-(-n // b) * b)


def _save_figure(path, draw, size=(10, 3)):
    from matplotlib.figure import Figure
    fig = Figure(figsize=size)
    draw(fig)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def _write_lines(path, lines, titles):
    from jaxseq.viz import strokes as sk
    path = Path(path)
    if path.suffix.lower() == ".svg":
        return sk.save_svg(path, lines, titles=titles)
    return sk.plot_grid(path, lines, titles, ncols=1, cell=(8.0, 1.6))


# --------------------------------------------------------------------------------------------- train
def cmd_train(a):
    if a.compile_cache:
        jax.config.update("jax_compilation_cache_dir", str(Path(a.compile_cache).resolve()))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    data = load_lines(a)
    synthesis = a.task == "synthesis"
    train_pool = np.nonzero(~data.is_valid)[0]
    val_pool = np.nonzero(data.is_valid)[0]
    train_pool = train_pool[hw_train.fit_lines([data.strokes[i] for i in train_pool],
                                               [data.texts[i] for i in train_pool], a.max_len,
                                               synthesis=synthesis)]
    val_pool = val_pool[hw_train.fit_lines([data.strokes[i] for i in val_pool],
                                           [data.texts[i] for i in val_pool], a.max_len,
                                           synthesis=synthesis)]
    if len(train_pool) < a.batch_size:
        sys.exit(f"only {len(train_pool)} training lines fit --max-len {a.max_len}; raise --max-len or "
                 f"lower --batch-size")
    ckpt_dir = Path(a.ckpt_dir or f"runs/hw_{a.task}")
    ck = Checkpointer(ckpt_dir, keep=2, best_metric="val_nll_point")
    old = ck.read_meta() if ck.latest_step() is not None else None
    init = None
    if a.init_from and old:
        print(f"{ckpt_dir} already holds a run: resuming it (--init-from only seeds a new run)")
    elif a.init_from:
        init = _init_source(a, data)
    src = old or (init[1] if init else None)   # charset and config come from here when set
    charset, text_len = None, 0
    if synthesis:
        charset = (Charset.from_json(src["charset"]) if src else
                   Charset.build([data.texts[i] for i in train_pool], min_count=a.min_char_count))
        text_len = _bucket(max(len(data.texts[i]) for i in np.concatenate([train_pool, val_pool])) + 1)
    if a.kappa_scale > 0:
        kappa_scale = a.kappa_scale
    else:  # the window should advance about one character per character's worth of points
        L = np.mean([len(data.strokes[i]) for i in train_pool])
        U = np.mean([len(data.texts[i]) for i in train_pool])
        kappa_scale = float(U / L)
    mcfg = hw.HWConfig(task=a.task, hidden=a.hidden, layers=a.layers, n_mix=a.n_mix,
                       n_gauss=a.n_gauss, vocab=charset.size if synthesis else 0,
                       kappa_scale=kappa_scale, unroll=a.unroll, bf16=a.bf16)
    if old:
        mcfg = hw.HWConfig(**old["config"])
    elif init:  # architecture from the checkpoint; unroll and bf16 are speed flags of this run
        mcfg = hw.HWConfig(**{**init[1]["config"], "unroll": a.unroll, "bf16": a.bf16})
    tcfg = TrainConfig(steps=a.steps, lr=a.lr, schedule=a.schedule, warmup=a.warmup,
                       min_lr=a.lr * 0.1, clip_norm=a.clip, optimizer=a.optimizer, seed=a.seed,
                       log_every=a.log_every, eval_every=a.eval_every, ckpt_every=a.ckpt_every,
                       progress=not a.no_progress)
    print(f"{a.task}: {len(train_pool)} train / {len(val_pool)} valid lines, max_len {a.max_len}, "
          f"text bucket {text_len}, {mcfg}")
    params = hw.init(jax.random.PRNGKey(a.seed), mcfg)
    if init:
        src_params, src_meta, src_step = init
        try:
            hw_train.check_init_compatible(src_meta["config"], {}, src_params, params, a.init_from)
        except ValueError as e:
            sys.exit(str(e))
        params = jax.tree_util.tree_map(jnp.asarray, src_params)
        print(f"initialised from {a.init_from} (step {src_step}); fresh optimizer, step 0")
    n_params = sum(x.size for x in jax.tree_util.tree_leaves(params))
    print(f"{n_params:,} parameters")

    extra = None
    if a.scheduled_sampling != "none":
        from jaxseq.nn.teacher_forcing import teacher_forcing_prob

        def extra(step, B):  # teacher-forcing probability for this step, as a batch column
            eps = float(teacher_forcing_prob(step, a.scheduled_sampling, k=a.ss_k, c=a.ss_c,
                                             eps_min=a.ss_min))
            return {"ss_eps": np.full((B,), eps, np.float32)}

    def loss_fn(params, batch, key):
        eps = jnp.mean(batch["ss_eps"]) if "ss_eps" in batch else None
        return hw.loss_fn(params, mcfg, batch, key, ss_eps=eps)

    def eval_loss(params, batch, key):
        return hw.loss_fn(params, mcfg, batch, key)

    batch_fn = hw_train.batch_fn_for(data.strokes, data.texts, train_pool, a.batch_size, a.max_len,
                                     charset, text_len, a.seed, extra)
    vb = hw_train.eval_batches(data.strokes, data.texts, val_pool, a.batch_size, a.max_len, charset,
                               text_len, max_batches=a.eval_batches)
    eval_step = make_eval_step(eval_loss)

    def eval_fn(params, step):
        return evaluate(eval_step, params, vb, jax.random.PRNGKey(0))

    def sample_fn(params, step):
        texts = ([data.texts[i] for i in val_pool[:4]] if a.synthetic else SAMPLE_TEXTS) \
            if synthesis else [""] * 4
        texts = [texts[i % len(texts)] for i in range(a.samples)]
        lines, _ = hw_sample.generate(params, mcfg, charset, texts, seed=step, bias=0.5,
                                      max_steps=None if synthesis else 500)
        path = ckpt_dir / "samples" / f"step_{step:06d}.png"
        try:
            _write_lines(path, lines, texts)
        except ImportError:
            return
        print(f"samples: {path}")

    primes = hw_train.priming_lines(data.strokes, data.texts, data.writers, val_pool, n=8)
    meta = {"config": dataclasses.asdict(mcfg), "scale": data.scale,
            "charset": charset.to_json() if charset else None, "text_len": text_len,
            "primes": primes, "train": {k: v for k, v in vars(a).items() if k != "fn"}}
    if init or (old and old.get("init_from")):
        meta["init_from"] = ({"dir": str(a.init_from), "step": init[2]} if init else old["init_from"])
    t0 = time.perf_counter()
    _, hist, last = hw_train.fit_timed(loss_fn, params, batch_fn, tcfg, ckpt=ck, meta=meta,
                                       eval_fn=eval_fn if vb else None,
                                       sample_fn=sample_fn if a.samples else None,
                                       time_budget_s=a.time_budget * 60 if a.time_budget else None)
    rates = [r["steps_per_s"] for r in hist if "steps_per_s" in r]
    print(f"stopped at step {last}/{a.steps} after {time.perf_counter() - t0:.0f}s; "
          f"{np.median(rates) if rates else float('nan'):.2f} steps/s (median); checkpoint {ckpt_dir}")
    (ckpt_dir / "history.json").write_text(json.dumps(hist, indent=1))
    ck.close()


def _init_source(a, data):
    """(params, meta, step) of --init-from after checking it fits this run's flags and data."""
    try:
        params, meta, step = hw_train.load_init_params(a.init_from)
    except FileNotFoundError as e:
        sys.exit(f"--init-from {a.init_from}: {e}")
    defaults = build_parser().parse_args(["train"])
    wanted = {"task": a.task}  # other architecture flags count only where set away from their default
    for k in ("hidden", "layers", "n_mix", "n_gauss", "kappa_scale"):
        if getattr(a, k) != getattr(defaults, k):
            wanted[k] = getattr(a, k)
    try:
        hw_train.check_init_compatible(meta["config"], wanted, params, params, a.init_from)
    except ValueError as e:
        sys.exit(str(e))
    if not np.isclose(meta.get("scale", data.scale), data.scale, rtol=1e-6):
        sys.exit(f"--init-from {a.init_from}: it was trained on offsets divided by scale "
                 f"{meta['scale']:.6g}, but this data's scale is {data.scale:.6g} (another --cache or "
                 f"preprocessing?); continue on the same data")
    return params, meta, step


# ----------------------------------------------------------------------------------------- load ckpt
def load_model(ckpt_dir, task=None):
    if not ckpt_dir:  # the shipped checkpoint, found from any working directory
        ckpt_dir = Path(DEFAULT_CKPT[task or "synthesis"])
        if not ckpt_dir.exists():
            ckpt_dir = Path(__file__).resolve().parents[1] / ckpt_dir
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.exists():
        sys.exit(f"checkpoint directory {ckpt_dir} does not exist: train first "
                 f"(experiments/handwriting.py train ...) or pass --ckpt DIR")
    params, meta = load_for_sampling(ckpt_dir)
    cfg = hw.HWConfig(**meta["config"])
    charset = Charset.from_json(meta["charset"]) if meta.get("charset") else None
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), params)  # export may be f16
    return params, cfg, charset, meta


# ------------------------------------------------------------------------------------------ generate
def cmd_generate(a):
    params, cfg, charset, meta = load_model(a.ckpt, a.task)
    if a.bf16:
        cfg = dataclasses.replace(cfg, bf16=True)
    texts = a.text or (["hello world"] if cfg.synthesis else [""])
    texts = [texts[i % len(texts)] for i in range(max(a.n, len(texts)))]
    primes = None
    if a.style is not None:
        if not cfg.synthesis:
            sys.exit("--style needs a synthesis checkpoint")
        shipped = meta.get("primes") or []
        if not 0 <= a.style < len(shipped):
            sys.exit(f"--style {a.style}: the checkpoint holds {len(shipped)} priming lines "
                     f"(0..{len(shipped) - 1})")
        p = shipped[a.style]
        primes = [(np.asarray(p["strokes"], np.float32), p["text"])] * len(texts)
        print(f"style {a.style}: writer {p['writer']}, primed with {p['text']!r}")
    t0 = time.perf_counter()
    lines, phis = hw_sample.generate(params, cfg, charset, texts, seed=a.seed, bias=a.bias,
                                     temperature=a.temperature, max_steps=a.max_steps or None,
                                     primes=primes, stop_tail=None if a.stop_tail < 0 else a.stop_tail)
    print(f"sampled {len(lines)} lines in {time.perf_counter() - t0:.2f}s (incl. compile); "
          f"lengths {[len(l) for l in lines]}")
    out = Path(a.out)
    _write_lines(out, lines, texts)
    print(f"wrote {out}")
    if a.plot_attention and cfg.synthesis:
        from jaxseq.viz import strokes as sk
        full = (primes[0][1] + " " + texts[0]) if primes else texts[0]

        def draw(fig):
            ax1, ax2 = fig.subplots(2, 1)
            sk.plot_strokes(ax1, lines[0])
            sk.plot_attention(ax2, phis[0], full + "⏎")
        print(f"wrote {_save_figure(a.plot_attention, draw, (10, 6))}")


# ---------------------------------------------------------------------------------------------- eval
def _val_setup(a, cfg, charset, meta):
    data = load_lines(a)
    max_len = a.max_len or meta.get("train", {}).get("max_len", 600)
    pool = np.nonzero(data.is_valid)[0]
    pool = pool[hw_train.fit_lines([data.strokes[i] for i in pool], [data.texts[i] for i in pool],
                                   max_len, synthesis=cfg.synthesis)]
    text_len = meta.get("text_len") or 0
    if cfg.synthesis:
        text_len = max(text_len, _bucket(max(len(data.texts[i]) for i in pool) + 1))
    return data, pool, max_len, text_len


def cmd_eval(a):
    params, cfg, charset, meta = load_model(a.ckpt, a.task)
    data, pool, max_len, text_len = _val_setup(a, cfg, charset, meta)
    vb = hw_train.eval_batches(data.strokes, data.texts, pool, a.batch_size, max_len, charset,
                               text_len)
    step = make_eval_step(lambda p, b, k: hw.loss_fn(p, cfg, b, k))
    m = evaluate(step, params, vb, jax.random.PRNGKey(0))
    n = len(vb) * a.batch_size
    print(f"validation ({n} lines, max_len {max_len}): NLL {m['nll_line']:.2f} nats/line, "
          f"{m['nll_point']:.4f} nats/point")
    print(json.dumps(m))


# ---------------------------------------------------------------------------------------------- plot
def cmd_plot(a):
    from jaxseq.nn import mixtures as mdn
    from jaxseq.viz import strokes as sk
    params, cfg, charset, meta = load_model(a.ckpt, a.task)
    data, pool, max_len, text_len = _val_setup(a, cfg, charset, meta)
    i = int(pool[a.index % len(pool)])
    b = hw_train.make_batch(data.strokes, data.texts, [i], max_len, charset, text_len)
    L = int(b["mask"].sum())
    _, (raw, aux) = hw.nll(params, cfg, {k: jnp.asarray(v) for k, v in b.items()})
    p = {k: np.asarray(v[0, :L]) for k, v in mdn.split_bivariate(raw, cfg.n_mix).items()}
    s3 = np.asarray(b["strokes"][0, :L])
    out = Path(a.out)
    pa = sk.mixture_to_absolute(p, s3)
    print(f"line {i}: {data.texts[i]!r}, {L} points")
    print(_save_figure(out / "density.png", lambda f: sk.plot_mixture_density(f.subplots(), s3, pa),
                       (12, 3)))
    sk.save_svg(out / "line.svg", s3, titles=[data.texts[i]])
    if cfg.synthesis:
        u = len(data.texts[i])
        print(_save_figure(out / "attention.png",
                           lambda f: sk.plot_attention(f.subplots(), np.asarray(aux["phi"][0, :L, :u]),
                                                       data.texts[i]), (12, 4)))
        print(_save_figure(out / "window.png",
                           lambda f: sk.plot_window(f.subplots(), np.asarray(aux["window"][0, :L]),
                                                    charset.chars), (12, 6)))


# -------------------------------------------------------------------------------------------- export
def cmd_export(a):
    """Params-only copy of one step (--step, else --pick latest|best): what ``generate`` needs."""
    src = Checkpointer(a.ckpt, best_metric="val_nll_point")
    steps = src.all_steps()
    if not steps:
        sys.exit(f"no checkpoint in {a.ckpt}: train first")
    if a.step is not None:
        if a.step not in steps:
            sys.exit(f"--step {a.step}: {a.ckpt} holds steps {steps}")
        step = a.step
    elif a.pick == "best":
        step = src.best_step()
        if step is None:
            sys.exit(f"--pick best: no step in {a.ckpt} has a val_nll_point metric; use --pick latest")
    else:
        step = src.latest_step()
    params, _, meta = src.restore(step)
    params = jax.tree_util.tree_map(lambda x: np.asarray(x, a.dtype), params)
    dst = Checkpointer(a.out, keep=1)
    dst.save(step, params, None, meta=meta, metrics=meta.get("metrics"))
    dst.close()
    m = meta.get("metrics") or {}
    print(f"exported step {step} of {a.ckpt} (of {steps}; val_nll_point "
          f"{m.get('val_nll_point', float('nan')):.4f}) to {a.out}")


# ---------------------------------------------------------------------------------------------- main
def build_parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def data_flags(p):
        p.add_argument("--data-dir", default="", help="folder holding iam-ondb/{lineStrokes-all,ascii-all}"
                       ".tar.gz (default: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
        p.add_argument("--cache", default=".cache/iam/iam_lines.npz",
                       help="compact preprocessed lines (jaxseq.data.iam); read if it exists, else built from "
                            "--data-dir and written here")
        p.add_argument("--synthetic", type=int, default=0,
                       help="use N synthetic lines instead of IAM-OnDB (smoke tests only)")
        p.add_argument("--seed", type=int, default=0, help="PRNG seed (init, batches, sampling)")

    t = sub.add_parser("train", help="train a network (resumes from --ckpt-dir if it has a checkpoint)")
    t.add_argument("--task", choices=hw.TASKS, default="synthesis",
                   help="prediction: unconditional (§4); synthesis: text-conditioned (§5)")
    data_flags(t)
    t.add_argument("--steps", type=int, default=6000, help="total optimizer steps (sets the lr schedule)")
    t.add_argument("--batch-size", type=int, default=64, help="lines per step")
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    t.add_argument("--schedule", default="cosine", choices=["constant", "cosine", "exponential"],
                   help="lr schedule after warmup (decays to lr/10)")
    t.add_argument("--warmup", type=int, default=200, help="linear lr warmup steps")
    t.add_argument("--optimizer", default="adam", choices=["adam", "adamw", "rmsprop", "sgd"],
                   help="Graves used RMSProp; Adam learns faster on a short budget")
    t.add_argument("--clip", type=float, default=3.0,
                   help="global gradient-norm clip (Graves clipped output derivatives to [-100, 100] "
                        "and LSTM derivatives to [-10, 10]; a global norm clip plays that role)")
    t.add_argument("--max-len", type=int, default=600,
                   help="points per line (padding). Synthesis skips longer lines, prediction crops them")
    t.add_argument("--hidden", type=int, default=400, help="LSTM units per layer")
    t.add_argument("--layers", type=int, default=3, help="stacked LSTM layers")
    t.add_argument("--n-mix", type=int, default=20, help="bivariate mixture components")
    t.add_argument("--n-gauss", type=int, default=10, help="window Gaussians (synthesis)")
    t.add_argument("--kappa-scale", type=float, default=0.0,
                   help="scale of the window's step (eq 51); 0: characters per point of the data")
    t.add_argument("--min-char-count", type=int, default=20,
                   help="characters rarer than this in the training texts map to 'unknown'")
    t.add_argument("--unroll", type=int, default=4, help="lax.scan unroll factor (speed only)")
    t.add_argument("--bf16", action="store_true", help="bf16 matmuls (state, gates and loss stay float32)")
    t.add_argument("--scheduled-sampling", default="none",
                   choices=["none", "linear", "exponential", "inverse_sigmoid"],
                   help="feed the model's own predicted points with prob 1-eps(step) (Bengio et al.)")
    t.add_argument("--ss-k", type=float, default=2000.0, help="scheduled-sampling schedule k")
    t.add_argument("--ss-c", type=float, default=1e-4, help="scheduled-sampling schedule c (linear)")
    t.add_argument("--ss-min", type=float, default=0.75, help="lowest teacher-forcing probability")
    t.add_argument("--ckpt-dir", default="", help="run directory (default runs/hw_<task>)")
    t.add_argument("--init-from", default="",
                   help="start a NEW run (empty --ckpt-dir) from the params of this checkpoint, e.g. "
                        "ckpt/handwriting_synthesis or a run dir (its latest step): architecture, charset "
                        "and kappa scale come from it (architecture flags must match where given; the "
                        "data scale must match); fresh optimizer at step 0 with this run's --lr schedule "
                        "(use a lower --lr to fine-tune). Ignored when --ckpt-dir already holds a run "
                        "(that run resumes)")
    t.add_argument("--eval-every", type=int, default=500, help="validate + save samples every N steps")
    t.add_argument("--eval-batches", type=int, default=8, help="validation batches per evaluation")
    t.add_argument("--ckpt-every", type=int, default=1000, help="checkpoint every N steps")
    t.add_argument("--log-every", type=int, default=50, help="average train metrics over N steps")
    t.add_argument("--time-budget", type=float, default=0.0,
                   help="minutes: stop cleanly (with a checkpoint) before this wall clock; rerun resumes")
    t.add_argument("--samples", type=int, default=4,
                   help="lines sampled into <ckpt-dir>/samples/ at each evaluation (0: none)")
    t.add_argument("--compile-cache", default=".cache/jax",
                   help="persistent XLA compilation cache (a resumed chunk skips compiling); '' disables")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (log lines instead)")
    t.set_defaults(fn=cmd_train)

    g = sub.add_parser("generate", help="write handwriting for a text (no data needed)")
    g.add_argument("--task", choices=hw.TASKS, default="synthesis",
                   help="picks the default checkpoint: ckpt/handwriting_<task>")
    g.add_argument("--ckpt", default="", help="checkpoint directory (default: the shipped one)")
    g.add_argument("--text", action="append", help="text to write (repeat for several lines)")
    g.add_argument("--n", type=int, default=1, help="number of lines (texts are cycled)")
    g.add_argument("--bias", type=float, default=1.0,
                   help="sampling bias b (eqs 61-62): 0 = raw samples, larger = neater")
    g.add_argument("--temperature", type=float, default=1.0, help="softmax/variance temperature")
    g.add_argument("--style", type=int, default=None,
                   help="prime with shipped real line ID (0-7) to imitate its writer")
    g.add_argument("--max-steps", type=int, default=0,
                   help="cap on points per line (0: from the text length; 700 for prediction)")
    g.add_argument("--seed", type=int, default=0, help="PRNG seed")
    g.add_argument("--bf16", action="store_true",
                   help="bf16 matmuls while sampling (faster on GPUs; state and mixture stay float32)")
    g.add_argument("--stop-tail", type=int, default=-1,
                   help="points allowed after the stopping rule fires, to finish the last stroke "
                        "(-1: about 1.5 characters' worth; 0: stop at once as in Graves §5.2)")
    g.add_argument("--out", default="out/handwriting.svg", help="output .svg or .png")
    g.add_argument("--plot-attention", default="",
                   help="also save the first line with its window weights phi to this .png")
    g.set_defaults(fn=cmd_generate)

    for name, fn, helptext in (("eval", cmd_eval, "validation NLL per line and per point"),
                               ("plot", cmd_plot, "density / attention / window figures of a "
                                                  "validation line")):
        e = sub.add_parser(name, help=helptext)
        e.add_argument("--task", choices=hw.TASKS, default="synthesis",
                       help="picks the default checkpoint")
        e.add_argument("--ckpt", default="", help="checkpoint directory")
        data_flags(e)
        e.add_argument("--max-len", type=int, default=0, help="points per line (0: as trained)")
        e.add_argument("--batch-size", type=int, default=64, help="lines per batch")
        if name == "plot":
            e.add_argument("--index", type=int, default=0, help="which validation line")
            e.add_argument("--out", default="out/handwriting_plots", help="output folder")
        e.set_defaults(fn=fn)

    x = sub.add_parser("export", help="params-only copy of one step (for shipping)")
    x.add_argument("--ckpt", required=True, help="training run directory")
    x.add_argument("--pick", default="latest", choices=["latest", "best"],
                   help="which step: the latest one, or the best by validation NLL per point. Default "
                        "latest: in our H100 synthesis run val NLL bottomed out near step 3000 and then "
                        "rose (the net overfits in NLL terms), yet samples kept getting more legible up "
                        "to the last step (5135); NLL rewards spread-out densities, legibility rewards "
                        "a sharp mode")
    x.add_argument("--step", type=int, default=None, help="export exactly this step (overrides --pick)")
    x.add_argument("--out", required=True, help="destination, e.g. ckpt/handwriting_synthesis")
    x.add_argument("--dtype", default="float32", choices=["float32", "float16"],
                   help="stored weight type (float16 halves the size; sampling computes in float32)")
    x.set_defaults(fn=cmd_export)
    return ap


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.fn(a)


if __name__ == "__main__":
    from _cli import run
    run(main)
