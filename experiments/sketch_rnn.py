"""Sketch-RNN (Ha & Eck 2017): train, evaluate and sample conditional / unconditional models.

    python experiments/sketch_rnn.py train --data sheep --steps 20000 --ckpt-dir runs/sketch_rnn/sheep
    python experiments/sketch_rnn.py eval --ckpt runs/sketch_rnn/sheep --data-dir ../shared/data
    python experiments/sketch_rnn.py sample --ckpt ckpt/sketch_rnn/sheep --n 16 --out out/sheep.png
    python experiments/sketch_rnn.py sample --ckpt ckpt/sketch_rnn/sheep --reconstruct --out out/rec.png
    python experiments/sketch_rnn.py sample --ckpt ckpt/sketch_rnn/sheep --interpolate --out out/int.svg
    python experiments/sketch_rnn.py export --ckpt runs/sketch_rnn/sheep --out ckpt/sketch_rnn/sheep
    python experiments/sketch_rnn.py prep --data kanji --out .devcarry/sketch-rnn/kanji.npz
"""
from __future__ import annotations

import os

# Grow GPU memory on demand instead of grabbing 75% of it: other jobs may share the GPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import sketches as sd
from jaxseq.models.sketch_rnn import model as sr
from jaxseq.models.sketch_rnn import sample as ss
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.loop import TrainConfig, fit

N_EXAMPLES = 8   # real test sketches kept in the checkpoint meta for --reconstruct/--interpolate


class TimeBudgetReached(Exception):
    pass


@dataclasses.dataclass
class RunConfig:
    data: str = "sheep"
    category: str = ""
    data_dir: str = ""
    ckpt_dir: str = ""
    batch_size: int = 100
    augment: bool = True
    drop_prob: float = 0.1
    time_budget: float = 0.0      # minutes, 0: none
    samples: int = 16


def data_name(args):
    if args.category:
        return args.category
    return args.data if args.data in sd.NAMED_SETS else Path(args.data).stem


def load_data(name, data_dir, category, max_len):
    path = sd.resolve(name, data_dir or None, category or None)
    print(f"data: {path}")
    return sd.load(path, max_len=max_len)


def _render(path, sketches, titles=None):
    try:
        return ss.save_grid(path, sketches, titles)
    except ImportError:  # no matplotlib: keep the raw strokes
        path = str(Path(path).with_suffix(".npz"))
        np.savez(path, *sketches)
        return path


# --------------------------------------------------------------------------------------------- train
def cmd_train(a):
    mcfg = sr.SketchConfig(conditional=not a.unconditional, enc_size=a.enc_size, dec_size=a.dec_size,
                           z_size=a.z_size, n_mix=a.n_mix, max_len=a.max_len,
                           layer_norm=not a.no_layer_norm, rec_dropout=a.rec_dropout, w_kl=a.w_kl,
                           kl_min=a.kl_min, eta_min=a.eta_min, kl_decay=a.kl_decay,
                           compute_dtype="bfloat16" if a.bf16 else "float32", unroll=a.unroll)
    name = data_name(a)
    ckpt_dir = Path(a.ckpt_dir or f"runs/sketch_rnn/{name}")
    data = load_data(a.data, a.data_dir, a.category, a.max_len)
    scale = sd.scale_factor(data["train"])
    print(f"{name}: train/valid/test = {[len(data[s]) for s in sd.SPLITS]} sketches (<= {a.max_len} "
          f"points), scale factor {scale:.4f}")
    # lr_t = (lr - min_lr) * decay^t + min_lr as in the paper's code; optax's exponential decay over
    # `steps` reaches lr * decay^steps, floored at min_lr.
    tcfg = TrainConfig(steps=a.steps, lr=a.lr, schedule="exponential",
                       decay_rate=float(a.lr_decay ** a.steps), min_lr=a.min_lr, clip_norm=a.clip,
                       seed=a.seed, log_every=a.log_every, eval_every=a.eval_every,
                       ckpt_every=a.ckpt_every, keep=2, progress=not a.no_progress)
    batch_fn = sd.BatchMaker(data["train"], scale, a.max_len, a.batch_size, seed=a.seed,
                             augment=not a.no_augment, drop_prob=a.drop_prob)
    t_end = time.time() + 60 * a.time_budget if a.time_budget else None

    def timed_batch(step):
        if t_end is not None and time.time() > t_end:
            raise TimeBudgetReached(step)
        return batch_fn(step)

    valid = list(sd.eval_batches(data["valid"], scale, a.max_len, a.batch_size))
    test_examples = [s.astype(np.float32).round(3).tolist() for s in data["test"][:N_EXAMPLES]]
    meta = {"model": "sketch_rnn", "config": mcfg.to_dict(), "scale": scale, "data": name,
            "train": {k: v for k, v in vars(a).items() if k != "func"}, "examples": test_examples}
    samples_dir = ckpt_dir / "samples"

    def eval_fn(params, step):
        m = sr.evaluate(params, mcfg, valid, jax.random.PRNGKey(a.seed + 7))
        m["loss"] = m["lr"] + (mcfg.w_kl * max(m["kl"], mcfg.kl_min) if mcfg.conditional else 0.0)
        return m

    def sample_fn(params, step):
        if step % a.sample_every and step != a.steps:
            return
        samples_dir.mkdir(parents=True, exist_ok=True)
        s5 = ss.sample(params, mcfg, jax.random.PRNGKey(step), n=a.samples, temperature=0.4)
        print("samples:", _render(samples_dir / f"step{step:07d}.png", ss.to_stroke3_list(s5, scale)))

    params = sr.init(jax.random.PRNGKey(a.seed), mcfg)
    n_params = sum(x.size for x in jax.tree_util.tree_leaves(params))
    print(f"model: {'conditional' if mcfg.conditional else 'unconditional'}, {n_params:,} params, "
          f"devices {jax.devices()}")
    ckpt = Checkpointer(ckpt_dir, keep=2, best_metric="val_loss")
    lines = []

    def log(msg):  # also kept in train_log.txt: a time-budget stop loses fit's returned history
        print(msg, flush=True)
        lines.append(msg)
        with open(ckpt_dir / "train_log.txt", "a") as f:
            f.write(msg + "\n")
    try:
        params, hist = fit(sr.make_loss(mcfg), params, timed_batch, tcfg, eval_fn=eval_fn,
                           sample_fn=sample_fn, ckpt=ckpt, meta=meta, log=log)
    except TimeBudgetReached as e:
        log(f"time budget of {a.time_budget} min reached before step {e.args[0]}; the last "
            f"checkpoint is step {ckpt.latest_step()} (run again to resume)")
        hist = []
    rows = [h for h in hist if "steps_per_s" in h]
    if rows:
        log(f"train speed: {np.mean([h['steps_per_s'] for h in rows[1:] or rows]):.2f} steps/s")
    (ckpt_dir / "history.json").write_text(json.dumps(hist, indent=1))
    print(f"checkpoints in {ckpt_dir} (steps {ckpt.all_steps()}, best {ckpt.best_step()})")


# ---------------------------------------------------------------------------------------- helpers
def load_ckpt(path, step=None, best=True):
    ck = Checkpointer(path, best_metric="val_loss")
    if ck.latest_step() is None:
        sys.exit(f"no checkpoint in {path}: train one first (experiments/sketch_rnn.py train)")
    if step is None:
        step = (ck.best_step() if best else None) or ck.latest_step()
    params, _, meta = ck.restore(step)
    ck.close()
    if meta.get("model") != "sketch_rnn":
        sys.exit(f"{path} is not a Sketch-RNN checkpoint (meta model={meta.get('model')!r})")
    return params, sr.SketchConfig.from_dict(meta["config"]), meta, step


# ---------------------------------------------------------------------------------------------- eval
def cmd_eval(a):
    params, cfg, meta, step = load_ckpt(a.ckpt, a.step)
    tr = meta.get("train", {})
    name = a.data or tr.get("data", meta["data"])
    data = load_data(name, a.data_dir, a.category or tr.get("category", ""), cfg.max_len)
    batches = sd.eval_batches(data[a.split], meta["scale"], cfg.max_len, a.batch_size)
    m = sr.evaluate(params, cfg, batches, jax.random.PRNGKey(a.seed))
    print(f"{a.ckpt} step {step}, {name} {a.split} ({len(data[a.split])} sketches): "
          f"Lr = {m['lr']:.4f} (offsets {m['l_s']:.4f}, pen {m['l_p']:.4f}), Lkl = {m['kl']:.4f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"step": step, "split": a.split, **m}, indent=1))


# -------------------------------------------------------------------------------------------- sample
def cmd_sample(a):
    params, cfg, meta, step = load_ckpt(a.ckpt, a.step)
    scale = meta["scale"]
    key = jax.random.PRNGKey(a.seed)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    if a.reconstruct or a.interpolate:
        if not cfg.conditional:
            sys.exit("--reconstruct/--interpolate need a conditional (VAE) checkpoint")
        if a.data or a.data_dir:
            tr = meta.get("train", {})
            src = load_data(a.data or tr.get("data", meta["data"]), a.data_dir, tr.get("category", ""),
                            cfg.max_len)["test"]
        else:
            src = [np.asarray(s, np.float32) for s in meta["examples"]]
    if a.reconstruct:
        real = src[:a.n // 2 if a.n > 1 else 1]
        rec = ss.reconstruct(params, cfg, real, scale, key, temperature=a.temperature)
        sketches = [s for pair in zip(real, rec) for s in pair]
        titles = [t for i in range(len(real)) for t in (f"input {i}", f"recon. {i}")]
    elif a.interpolate:
        sketches = ss.interpolate(params, cfg, src[a.pair[0]], src[a.pair[1]], scale, key,
                                  steps=a.n, temperature=a.temperature)
        titles = [f"t={t:.2f}" for t in np.linspace(0, 1, a.n)]
    else:
        s5 = ss.sample(params, cfg, key, n=a.n, temperature=a.temperature)
        sketches = ss.to_stroke3_list(s5, scale)
        titles = [f"tau={a.temperature}"] * a.n
    print(f"step {step}: wrote", _render(a.out, sketches, None if a.out.endswith(".svg") else titles))


# ------------------------------------------------------------------------------------- export / prep
def cmd_export(a):
    params, cfg, meta, step = load_ckpt(a.ckpt, a.step)
    out = Path(a.out)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty; remove it first")
    ck = Checkpointer(out, keep=1)
    ck.save(step, params, None, meta={k: v for k, v in meta.items() if k not in ("step", "metrics")},
            metrics=meta.get("metrics"))
    ck.close()
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"exported step {step} (params + meta, no optimizer state) to {out}: {size / 2**20:.1f} MiB")


def cmd_prep(a):
    """One compact npz (same train/valid/test stroke-3 format) for carrying to another machine."""
    data = load_data(a.data, a.data_dir, a.category, a.max_len)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    conv = {}
    for split, seqs in data.items():
        ints = all(np.array_equal(s, np.round(s)) for s in seqs)
        dt = np.int16 if ints else np.float32
        arr = np.empty(len(seqs), dtype=object)
        arr[:] = [s.astype(dt) for s in seqs]
        conv[split] = arr
    np.savez_compressed(out, **conv)
    print(f"wrote {out}: {out.stat().st_size / 2**20:.2f} MiB "
          f"({', '.join(f'{k} {len(v)}' for k, v in conv.items())})")


# ---------------------------------------------------------------------------------------------- args
def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def data_args(q, default="sheep"):
        q.add_argument("--data", default=default, help="data set: sheep, kanji, short_kanji, omniglot, "
                       "or a path to a stroke-3 npz (default: %(default)s)")
        q.add_argument("--category", default="", help="a QuickDraw category (e.g. cat), fetched by name "
                       "from the official sketchrnn bucket into ~/.cache/jaxseq and SHA-256-pinned")
        q.add_argument("--data-dir", default="", help="data root holding sketch-rnn/<file>.npz "
                       "(else $JAXSEQ_DATA, then ~/.cache/jaxseq)")

    t = sub.add_parser("train", help="train a model", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data_args(t)
    g = t.add_mutually_exclusive_group()
    g.add_argument("--conditional", action="store_true", default=True, help="VAE: encoder + z (default)")
    g.add_argument("--unconditional", action="store_true", help="decoder only, no latent code")
    t.add_argument("--steps", type=int, default=20000, help="training steps")
    t.add_argument("--batch-size", type=int, default=100, help="sketches per step")
    t.add_argument("--lr", type=float, default=1e-3, help="initial learning rate (Adam)")
    t.add_argument("--min-lr", type=float, default=1e-5, help="learning-rate floor")
    t.add_argument("--lr-decay", type=float, default=0.9999, help="per-step learning-rate decay")
    t.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clip")
    t.add_argument("--max-len", type=int, default=250, help="Nmax: longer sketches are dropped")
    t.add_argument("--enc-size", type=int, default=256, help="encoder LSTM size per direction")
    t.add_argument("--dec-size", type=int, default=512, help="decoder LSTM size")
    t.add_argument("--z-size", type=int, default=128, help="latent size Nz")
    t.add_argument("--n-mix", type=int, default=20, help="mixture components M")
    t.add_argument("--w-kl", type=float, default=0.5, help="KL weight w_KL")
    t.add_argument("--kl-min", type=float, default=0.2, help="KL floor (tolerance) KL_min")
    t.add_argument("--eta-min", type=float, default=0.01, help="initial KL annealing weight eta_min")
    t.add_argument("--kl-decay", type=float, default=0.99995, help="KL annealing rate R")
    t.add_argument("--no-layer-norm", action="store_true", help="plain decoder LSTM (no layer norm)")
    t.add_argument("--rec-dropout", type=float, default=0.1, help="decoder recurrent dropout rate")
    t.add_argument("--no-augment", action="store_true", help="no random scaling / point dropping")
    t.add_argument("--drop-prob", type=float, default=0.1, help="augment-stroke point-drop probability")
    t.add_argument("--unroll", type=int, default=1, help="lax.scan unroll factor (same math; fewer "
                   "loop iterations, usually faster on GPU, slower to compile)")
    t.add_argument("--bf16", action="store_true", help="bfloat16 matmuls (losses stay float32)")
    t.add_argument("--seed", type=int, default=0, help="random seed (init, data order, sampling)")
    t.add_argument("--ckpt-dir", default="", help="checkpoint dir (default runs/sketch_rnn/<data>); "
                   "an existing one is resumed")
    t.add_argument("--time-budget", type=float, default=0.0, help="stop after this many minutes "
                   "(0: no limit); keeps the last periodic checkpoint")
    t.add_argument("--eval-every", type=int, default=1000, help="valid loss every N steps")
    t.add_argument("--ckpt-every", type=int, default=500, help="checkpoint every N steps")
    t.add_argument("--log-every", type=int, default=50, help="average train metrics over N steps")
    t.add_argument("--samples", type=int, default=16, help="sketches per periodic sample grid")
    t.add_argument("--sample-every", type=int, default=2000, help="sample grid every N steps (at an "
                   "eval step; also at the end)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="Lr and Lkl on a split", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("--ckpt", required=True, help="checkpoint dir")
    data_args(e, default="")
    e.add_argument("--split", default="test", choices=sd.SPLITS, help="which split")
    e.add_argument("--batch-size", type=int, default=100, help="sketches per eval batch")
    e.add_argument("--step", type=int, default=None, help="checkpoint step (default: best, else latest)")
    e.add_argument("--seed", type=int, default=0, help="seed of the sampled z")
    e.add_argument("--json", default="", help="also write the numbers to this JSON file")
    e.set_defaults(func=cmd_eval)

    s = sub.add_parser("sample", help="sample, reconstruct or interpolate",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--ckpt", default="ckpt/sketch_rnn/sheep", help="checkpoint dir")
    s.add_argument("--n", type=int, default=16, help="number of sketches (interpolation steps)")
    s.add_argument("--temperature", type=float, default=0.4, help="sampling temperature tau")
    s.add_argument("--out", default="out/sketch_rnn/grid.png", help="output .png (grid) or .svg")
    s.add_argument("--reconstruct", action="store_true", help="encode real test sketches and decode "
                   "them (pairs input/reconstruction)")
    s.add_argument("--interpolate", action="store_true", help="decode along the slerp path between "
                   "the codes of two test sketches")
    s.add_argument("--pair", type=int, nargs=2, default=(0, 1), help="which two sketches to interpolate")
    s.add_argument("--data", default="", help="take sketches from this data set's test split instead "
                   "of the examples stored in the checkpoint")
    s.add_argument("--data-dir", default="", help="data root (with --data)")
    s.add_argument("--step", type=int, default=None, help="checkpoint step (default: best, else latest)")
    s.add_argument("--seed", type=int, default=0, help="sampling seed")
    s.set_defaults(func=cmd_sample)

    x = sub.add_parser("export", help="copy params + meta (no optimizer state) of a run for shipping",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    x.add_argument("--ckpt", required=True, help="run checkpoint dir")
    x.add_argument("--out", default="ckpt/sketch_rnn/sheep", help="new checkpoint dir")
    x.add_argument("--step", type=int, default=None, help="step (default: best, else latest)")
    x.set_defaults(func=cmd_export)

    q = sub.add_parser("prep", help="write one compact npz of a data set (for .devcarry/)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data_args(q)
    q.add_argument("--max-len", type=int, default=250, help="drop longer sketches")
    q.add_argument("--out", required=True, help="output .npz (e.g. .devcarry/sketch-rnn/kanji.npz)")
    q.set_defaults(func=cmd_prep)
    return p


def main(argv=None):
    a = build_parser().parse_args(argv)
    try:
        a.func(a)
    except sd.DataError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    from _cli import run
    run(main)
