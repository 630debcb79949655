"""Scheduled sampling (Bengio et al. 2015) vs teacher forcing on a character LSTM over tiny Shakespeare.

Both runs use the same seed, data order, model and step count; they differ only in the loss: teacher
forcing (every input is the true previous character) or scheduled sampling (each input is the true
character with probability eps(step), else the model's own sample; eps decays by --schedule).

Every --eval-every steps it records
  * validation NLL under teacher forcing, in bits/char (what training optimises), and
  * free-running sample quality: the model continues --n-samples real validation prefixes for
    --sample-len characters at temperature 1; the continuations are scored by an independent
    interpolated Witten-Bell character 5-gram model fit on the TRAINING text (bits/char; real
    validation text scores about 2.16 under it), plus the fraction of generated words that occur in
    the training text, and the distinct-word ratio (types / tokens) as a guard against repetitive
    text, which an n-gram model scores well.
It writes ss_curves.png, results.json, and per run history_<mode>.json, samples_<mode>.txt and a
checkpoint ckpt_<mode>/ into --out (the plot and results.json cover every run found there).

    python experiments/scheduled_sampling.py --out runs/ss
    python experiments/scheduled_sampling.py --cache .devcarry/tinyshakespeare.npz   # compact data file
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

from jaxseq.models.char_lm import model as cr
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.errors import DataError
from jaxseq.data.files import find_file
from jaxseq.nn.teacher_forcing import SCHEDULES, teacher_forcing_prob
from jaxseq.training.loop import TrainConfig, fit


@dataclasses.dataclass
class Config:
    data_dir: str | None = None
    data: str | None = None           # a --cache npz instead of the raw text
    mode: str = "both"
    steps: int = 2000
    batch_size: int = 32
    seq_len: int = 100
    embed: int = 32
    hidden: int = 128
    layers: int = 1
    lr: float = 2e-3
    schedule: str = "linear"
    eps_min: float = 0.5
    k: float = 0.0                    # schedule parameter; 0 picks one from --steps
    eval_every: int = 200
    n_samples: int = 32
    sample_len: int = 300
    seed: int = 0
    out: str = "runs/ss"


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="data root holding tinyshakespeare/input.txt "
                   "(default: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    p.add_argument("--data", default=None, help="a compact .npz written by --cache (used instead)")
    p.add_argument("--cache", default=None, help="only write the encoded text + vocabulary to this .npz "
                   "and exit (to carry the data to another machine)")
    p.add_argument("--mode", choices=["both", "tf", "ss"], default="both",
                   help="train teacher forcing, scheduled sampling, or both (same seed)")
    p.add_argument("--steps", type=int, default=2000, help="training steps per run")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per batch")
    p.add_argument("--seq-len", type=int, default=100, help="characters predicted per sequence")
    p.add_argument("--embed", type=int, default=32, help="character embedding size")
    p.add_argument("--hidden", type=int, default=128, help="LSTM size")
    p.add_argument("--layers", type=int, default=1, help="LSTM layers")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (cosine-decayed)")
    p.add_argument("--schedule", choices=SCHEDULES, default="linear",
                   help="decay of eps, the probability of feeding the truth (Bengio et al. §2.4)")
    p.add_argument("--eps-min", type=float, default=0.5, help="floor of eps")
    p.add_argument("--k", type=float, default=0.0,
                   help="schedule parameter (linear: slope so eps hits --eps-min at 75%% of the steps "
                        "when 0; exponential: base; inverse_sigmoid: k; constant: eps)")
    p.add_argument("--eval-every", type=int, default=200, help="steps between evaluations")
    p.add_argument("--n-samples", type=int, default=32, help="free-running samples per evaluation")
    p.add_argument("--sample-len", type=int, default=300, help="characters per free-running sample")
    p.add_argument("--seed", type=int, default=0, help="seed for init, batches and sampling")
    p.add_argument("--out", default="runs/ss", help="output folder")
    a = p.parse_args(argv)
    d = {f.name: getattr(a, f.name) for f in dataclasses.fields(Config)}
    return Config(**d), a.cache


def load_text(cfg: Config):
    """-> (tokens int32 [N], chars list)."""
    if cfg.data:
        z = np.load(cfg.data)
        return z["tokens"].astype(np.int32), list(str(z["chars"]))
    path = find_file("tinyshakespeare/input.txt", cfg.data_dir,
                     how_to_get="Get input.txt of tiny Shakespeare from the char-rnn repository into "
                                "<data-dir>/tinyshakespeare/")
    text = path.read_text(encoding="utf-8")
    chars, stoi = cr.build_vocab(text)
    return cr.encode(text, stoi), chars


def eps_fn(cfg: Config):
    if cfg.schedule == "linear":
        c = (1.0 - cfg.eps_min) / (0.75 * cfg.steps) if cfg.k == 0 else cfg.k
        return lambda s: teacher_forcing_prob(s, "linear", k=1.0, c=c, eps_min=cfg.eps_min)
    k = cfg.k or {"exponential": cfg.eps_min ** (1.0 / (0.75 * cfg.steps)),
                  "inverse_sigmoid": max(cfg.steps / 10.0, 1.0), "constant": 1.0}[cfg.schedule]
    return lambda s: teacher_forcing_prob(s, cfg.schedule, k=k, eps_min=cfg.eps_min)


def run(cfg: Config, mode, train, val, chars, lm, words, log=print):
    mcfg = cr.CharRNNConfig(len(chars), cfg.embed, cfg.hidden, cfg.layers)
    params = cr.init(jax.random.PRNGKey(cfg.seed), mcfg)
    eps = eps_fn(cfg)

    def batch_fn(step):
        b = {"tokens": cr.random_windows(train, step, cfg.batch_size, cfg.seq_len + 1, cfg.seed)}
        if mode == "ss":
            b["eps"] = np.full((cfg.batch_size,), float(eps(step)), np.float32)
        return b

    val_b = jnp.asarray(cr.random_windows(val, 0, 64, 257, seed=cfg.seed + 99))
    starts = np.linspace(0, len(val) - 33, cfg.n_samples).astype(int)   # evenly spread, no overlaps
    prefixes = np.stack([val[s:s + 32] for s in starts])
    val_nll = jax.jit(lambda p: cr.tf_loss(p, {"tokens": val_b}, None)[0])
    gen = jax.jit(lambda p, k: cr.sample(p, k, jnp.asarray(prefixes), cfg.sample_len))
    last = {}

    def eval_fn(p, step):
        toks = np.asarray(gen(p, jax.random.PRNGKey(cfg.seed + 5)))
        texts = [cr.decode(t, chars) for t in toks]
        ctx = [cr.decode(t, chars) for t in prefixes]
        joined = " ".join(texts)
        wl = [w for w in joined.split()]
        last["samples"] = [c + "|" + t for c, t in zip(ctx, texts)]
        return {"bits_per_char": float(val_nll(p)) / np.log(2.0),
                "sample_ngram_bpc": float(np.mean([lm.bits_per_char(t, c) for t, c in zip(texts, ctx)])),
                "sample_real_words": cr.real_word_fraction(joined, words),
                "sample_distinct_words": len(set(wl)) / max(len(wl), 1)}

    loss = cr.ss_loss if mode == "ss" else cr.tf_loss
    tcfg = TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.1,
                       clip_norm=5.0, seed=cfg.seed, log_every=50, eval_every=cfg.eval_every)
    ckpt = Checkpointer(Path(cfg.out) / f"ckpt_{mode}", keep=1)
    meta = {"config": dataclasses.asdict(cfg), "mode": mode, "chars": "".join(chars),
            "model": dataclasses.asdict(mcfg)}
    t0 = time.time()
    if ckpt.latest_step() == cfg.steps:  # finished before: evaluate only
        params, _, _ = ckpt.restore(cfg.steps, params_like=params)
        hist = [{"step": cfg.steps, **{f"val_{k}": v for k, v in eval_fn(params, cfg.steps).items()}}]
    else:
        params, hist = fit(loss, params, batch_fn, tcfg, eval_fn=eval_fn, ckpt=ckpt, meta=meta, log=log)
    return hist, last.get("samples", []), time.time() - t0


def plot(hists, path, ref_bpc):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("val_bits_per_char", "validation NLL, teacher-forced (bits/char)"),
            ("val_sample_ngram_bpc", "free-running samples under a 5-gram LM (bits/char)"),
            ("val_sample_real_words", "fraction of sampled words that are real"),
            ("train_eps", "eps: P(feed ground truth)")]
    fig, ax = plt.subplots(1, 4, figsize=(18, 3.8))
    for mode, hist in hists.items():
        lab = {"tf": "teacher forcing", "ss": "scheduled sampling"}[mode]
        for a, (k, title) in zip(ax, keys):
            if k == "train_eps":
                rows = [(h["step"], h.get("eps", 1.0)) for h in hist if "loss" in h]
            else:
                rows = [(h["step"], h[k]) for h in hist if k in h]
            if rows:
                a.plot(*zip(*rows), "o-" if k != "train_eps" else "-", ms=3, label=lab)
            a.set_title(title, fontsize=9)
            a.set_xlabel("step")
    ax[1].axhline(ref_bpc, color="k", ls=":", lw=1, label="real validation text")
    ax[0].legend(fontsize=8)
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main(argv=None):
    cfg, cache = parse(argv)
    try:
        tokens, chars = load_text(cfg)
    except DataError as e:
        sys.exit(f"error: {e}")
    if cache:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, tokens=tokens.astype(np.uint8), chars=np.array("".join(chars)))
        print(f"wrote {cache} ({Path(cache).stat().st_size / 1e6:.2f} MB)")
        return
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    n = int(0.9 * len(tokens))
    train, val = tokens[:n], tokens[n:]
    train_text = cr.decode(train, chars)
    t0 = time.time()
    lm = cr.CharNGram(train_text, order=5, alphabet=chars)
    words = cr.word_set(train_text)
    ref = lm.bits_per_char(cr.decode(val[:20000], chars))
    print(f"5-gram reference model built in {time.time() - t0:.0f}s; real validation text: {ref:.3f} "
          f"bits/char")
    modes = ["tf", "ss"] if cfg.mode == "both" else [cfg.mode]
    for mode in modes:  # per-mode files, so --mode tf and --mode ss may run as separate jobs
        hist, samples, secs = run(cfg, mode, train, val, chars, lm, words)
        final = {k: v for k, v in hist[-1].items() if k.startswith("val_")}
        (out / f"history_{mode}.json").write_text(json.dumps(hist, indent=1))
        (out / f"results_{mode}.json").write_text(json.dumps(dict(final, train_s=round(secs, 1)), indent=1))
        with open(out / f"samples_{mode}.txt", "w") as f:
            f.write(f"===== {mode}: prefix|continuation (temperature 1) =====\n")
            for s in samples[:4]:
                f.write(s + "\n-----\n")
        print(f"{mode}: {json.dumps(final)}\n--- sample ---\n{samples[0] if samples else ''}\n")
    hists = {m: json.loads((out / f"history_{m}.json").read_text())
             for m in ("tf", "ss") if (out / f"history_{m}.json").exists()}
    summary = {"ngram_bpc_of_real_val_text": ref, "config": dataclasses.asdict(cfg),
               **{m: json.loads((out / f"results_{m}.json").read_text()) for m in hists}}
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    plot(hists, out / "ss_curves.png", ref)
    print(json.dumps(summary, indent=1))
    print("wrote", out / "ss_curves.png", ", ".join(f"samples_{m}.txt" for m in hists))

if __name__ == "__main__":
    from _cli import run
    run(main)
