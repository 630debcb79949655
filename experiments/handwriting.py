"""Graves (2013) handwriting: train the prediction / synthesis networks on IAM-OnDB, evaluate, generate.

    python experiments/handwriting.py prep --data-dir DATA --out .cache/iam/iam_lines.npz   # parse once
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
From Python: ``from jaxseq import handwriting; handwriting.load().write(["hello world"])``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from _cli import add_config_flags, add_export, add_time_budget, fail, out_path, parser, run, subparsers, \
    time_budget_s

from jaxseq import handwriting
from jaxseq.data import iam
from jaxseq.models.handwriting import TrainSettings, sample, training
from jaxseq.models.handwriting.model import HWConfig, TASKS
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import write_history
from jaxseq.training.loop import is_main_process
from jaxseq.viz.strokes import MAX_GRID_CELLS as MAX_PNG_LINES, X_HEIGHT_PX, save_line_attention

ARCH_HELP = {
    "task": "prediction: unconditional (§4); synthesis: text-conditioned (§5)", "hidden": "LSTM units per layer",
    "layers": "stacked LSTM layers", "n_mix": "bivariate mixture components", "n_gauss": "window Gaussians",
    "kappa_scale": "scale of the window's step (eq 51); 0: characters per point of the data",
    "unroll": "lax.scan unroll factor (speed only)", "bf16": "bf16 matmuls (state, gates and loss stay float32)"}
TRAIN_HELP = {
    "steps": "total optimizer steps (sets the lr schedule)", "batch_size": "lines per step",
    "lr": "peak learning rate", "schedule": "lr schedule after warmup (decays to lr/10)",
    "warmup": "linear lr warmup steps",
    "optimizer": "Graves used RMSProp; Adam learns faster on a short budget",
    "clip": "global gradient-norm clip (Graves clipped output derivatives to [-100, 100] and LSTM "
            "derivatives to [-10, 10]; a global norm clip plays that role)",
    "max_len": "points per line (padding). Synthesis skips longer lines, prediction crops them",
    "min_char_count": "characters rarer than this in the training texts map to 'unknown'",
    "rare_repeat": "lines holding a character rarer than --rare-count appear this many times per epoch "
                   "(digits and most capitals are rare in IAM-OnDB; 1: off)",
    "rare_count": "a character seen fewer times than this in the training texts is rare (--rare-repeat)",
    "weight_noise": "std of Gaussian noise added to every weight matrix at each training step (a fixed "
                    "form of Graves' weight noise against overfitting; 0: off)",
    "scheduled_sampling": "feed the model's own predicted points with prob 1-eps(step) (Bengio et al.)",
    "ss_k": "schedule k", "ss_c": "schedule c (linear)", "ss_min": "lowest teacher-forcing probability",
    "eval_every": "validate + save samples every N steps", "eval_batches": "validation batches per evaluation",
    "ckpt_every": "checkpoint every N steps", "log_every": "average train metrics over N steps",
    "samples": "lines sampled into <ckpt-dir>/samples/ at each evaluation (0: none)",
    "seed": "PRNG seed (init, batches, sampling)", "progress": "progress bar (else log lines)"}
TRAIN_CHOICES = {"schedule": ["constant", "cosine", "exponential"],
                 "optimizer": ["adam", "adamw", "rmsprop", "sgd"],
                 "scheduled_sampling": ["none", "linear", "exponential", "inverse_sigmoid"]}
PREP_HELP = {
    "stride": "keep every k-th point of each stroke, plus its last point (1 keeps all, median line ~620 "
              "points; 2 gives ~310)",
    "rdp_eps": "Ramer-Douglas-Peucker tolerance in sensor units after striding (0 = off)",
    "clip": "clip |dx|, |dy| of pen-down moves to this many sensor units (sensor glitches; 0 = off)",
    "clip_up": "clip |dx|, |dy| of pen-up moves (between strokes) to this many sensor units (0 = off)",
    "min_points": "drop lines with fewer points after down-sampling", "seed": "seed of the split",
    "valid_fraction": "fraction of lines for the writer-disjoint validation split",
    "session_gap": "seconds between forms that start a new recording session (writer proxy)"}


def load_lines(a):
    if getattr(a, "synthetic", 0):
        return iam.synthetic_lines(a.synthetic, getattr(a, "seed", 0))
    return iam.load(data_dir=a.data_dir or None, cache_path=a.cache or None, progress=True)


def check_positive(a, *names):
    for n in names:
        if getattr(a, n) <= 0:
            fail(f"--{n.replace('_', '-')} {getattr(a, n)}: give a positive number")


# -------------------------------------------------------------------------------------------- commands
def cmd_prep(a):
    settings = {k: getattr(a, k) for k in iam.DEFAULTS}
    path = iam.build_cache(a.data_dir or None, out_path(a.out), progress=a.progress, **settings)
    print(iam.report(iam.load_cache(path), path))


def cmd_train(a):
    check_positive(a, "steps", "batch_size", "max_len", "hidden", "layers", "n_mix", "n_gauss", "unroll")
    if a.compile_cache:
        import jax
        jax.config.update("jax_compilation_cache_dir", str(Path(a.compile_cache).resolve()))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    arch = {k: getattr(a, k) for k in training.ARCH_DEFAULTS if k != "vocab"}
    settings = TrainSettings(**{k: getattr(a, k) for k in TrainSettings.__dataclass_fields__})
    budget = time_budget_s(a)
    ckpt_dir = as_path(a.ckpt_dir or f"runs/hw_{a.task}")   # gs://bucket/run stays a URI
    lines = load_lines(a)
    info = {"cache": a.cache, "data_dir": a.data_dir, "synthetic": a.synthetic}
    t0 = time.perf_counter()
    _, hist, _ = training.train(arch, settings, lines, ckpt_dir, init_from=a.init_from or None,
                                time_budget_s=budget, info=info)
    if is_main_process():   # every process trained and saved; process 0 alone writes files
        write_history(ckpt_dir, hist)   # merged with the rows from before a resume
    if not is_main_process() or hist.stopped == "preempted":   # preempted: the VM is going away
        return
    rates = sorted(r["steps_per_s"] for r in hist if "steps_per_s" in r)
    print(f"stopped at step {hist.step}/{a.steps} after {time.perf_counter() - t0:.0f}s; "
          f"{rates[len(rates) // 2] if rates else float('nan'):.2f} steps/s (median); checkpoint {ckpt_dir}")


def cmd_generate(a):
    check_positive(a, "n", "x_height")
    if a.width < 0 or a.line_height < 0:
        fail(f"--width {a.width} / --line-height {a.line_height}: give a number of pixels (0: automatic)")
    out = out_path(a.out)
    attention = out_path(a.plot_attention, "--plot-attention") if a.plot_attention else None
    if out.suffix.lower() != ".svg" and a.n > MAX_PNG_LINES:
        fail(f"--n {a.n}: a PNG holds at most {MAX_PNG_LINES} lines; write an .svg for more")
    hand = handwriting.load(a.ckpt or None, task=a.task, bf16=a.bf16)
    style = a.style
    if a.prime_strokes or a.save_style:
        style = own_style(a, hand)
    texts = a.text or (["hello world"] if hand.config.synthesis else None)
    if texts and hand.config.synthesis and max(map(len, texts)) > hand.max_chars:
        texts = [line for t in texts for line in hand.wrap(t)]       # in order; all of them written
        print(f"note: text word-wrapped into {len(texts)} lines of at most {hand.max_chars} characters",
              file=sys.stderr)
    t0 = time.perf_counter()
    warnings.formatwarning = lambda msg, *_, **__: f"warning: {msg}\n"   # e.g. unknown characters
    lines, phis = hand.write(texts, n=a.n, bias=a.bias, temperature=a.temperature, style=style, seed=a.seed,
                             max_steps=a.max_steps or None, return_phi=True,
                             stop_tail=None if a.stop_tail == -1 else a.stop_tail)
    texts = hand.check_texts(texts, a.n)
    print(f"sampled {len(lines)} lines in {time.perf_counter() - t0:.2f}s (incl. compile); "
          f"lengths {[len(l) for l in lines][:64]}")
    layout = {"x_height": a.x_height, "line_height": a.line_height or None, "width": a.width or None}
    print(f"wrote {hand.save(lines, out, texts, **layout)}")
    if attention and hand.config.synthesis:
        full = (hand.prime(style)[1] + " " + texts[0]) if style is not None else texts[0]
        print(f"wrote {save_line_attention(attention, lines[0], phis[0], full + '⏎')}")


def own_style(a, hand):
    """``--prime-strokes FILE --prime-text TEXT`` as a checked Style (written to ``--save-style``)."""
    from jaxseq.models.handwriting.style import Style
    if not a.prime_strokes:
        fail("--save-style needs --prime-strokes (the stroke file to make the style from)")
    if a.style is not None:
        fail("give --style (a shipped line) or --prime-strokes (your own), not both")
    style = Style.from_file(a.prime_strokes, a.prime_text or None, scale=hand.meta["scale"])
    style.check(hand.charset, hand.max_chars)
    if a.save_style:
        print(f"wrote {style.save(out_path(a.save_style, '--save-style'))}")
    return style


def cmd_eval(a):
    hand = handwriting.load(a.ckpt or None, task=a.task)
    m, n, max_len = hand.evaluate(load_lines(a), batch_size=a.batch_size, max_len=a.max_len)
    print(f"validation ({n} lines, max_len {max_len}): NLL {m['nll_line']:.2f} nats/line, "
          f"{m['nll_point']:.4f} nats/point")
    print(json.dumps(m))


def cmd_plot(a):
    from jaxseq.viz import strokes as sk
    from jaxseq.viz.figures import save_figure
    hand = handwriting.load(a.ckpt or None, task=a.task)
    d = handwriting.inspect_line(hand, load_lines(a), a.index, a.max_len)
    out, s3 = Path(a.out), d["strokes"]
    print(f"line {d['id']}: {d['text']!r}, {len(s3)} points")
    pa = sk.mixture_to_absolute(d["mixture"], s3)
    print(save_figure(out / "density.png", lambda f: sk.plot_mixture_density(f.subplots(), s3, pa),
                      (12, 3)))
    print(sk.save_svg(out / "line.svg", s3, titles=[d["text"]]))
    if hand.config.synthesis:
        print(save_figure(out / "attention.png",
                          lambda f: sk.plot_attention(f.subplots(), d["phi"], d["text"]), (12, 4)))
        print(save_figure(out / "window.png",
                          lambda f: sk.plot_window(f.subplots(), d["window"], hand.charset.chars), (12, 6)))


# ------------------------------------------------------------------------------------------------ main
def build_parser():
    ap = parser(__doc__)
    sub = subparsers(ap)

    def data_flags(p):
        p.add_argument("--data-dir", default="", help="folder holding iam-ondb/{lineStrokes-all,ascii-all}"
                       ".tar.gz (default: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
        p.add_argument("--cache", default=str(iam.DEFAULT_CACHE),
                       help="compact preprocessed lines (see prep); read if it exists, else built from "
                            "--data-dir and written here")
        p.add_argument("--synthetic", type=int, default=0,
                       help="use N synthetic lines instead of IAM-OnDB (smoke tests only)")

    def ckpt_flags(p):
        p.add_argument("--task", choices=TASKS, default="synthesis",
                       help="picks the default checkpoint: ckpt/handwriting_<task>")
        p.add_argument("--ckpt", default="", help="checkpoint directory (default: the shipped one)")

    pr = sub.add_parser("prep", help="parse the IAM-OnDB archives once into a compact cache, and report")
    pr.add_argument("--data-dir", default="", help="folder holding iam-ondb/ (default: $JAXSEQ_DATA)")
    pr.add_argument("--out", default=str(iam.DEFAULT_CACHE), help="cache file to write")
    for k, v in iam.DEFAULTS.items():
        pr.add_argument("--" + k.replace("_", "-"), type=type(v), default=v, help=PREP_HELP[k])
    pr.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    pr.set_defaults(fn=cmd_prep)

    t = sub.add_parser("train", help="train a network (resumes from --ckpt-dir if it has a checkpoint)")
    add_config_flags(t, HWConfig, skip=("vocab",), help=ARCH_HELP, choices={"task": TASKS},
                     defaults=training.ARCH_DEFAULTS)
    add_config_flags(t, TrainSettings, help=TRAIN_HELP, choices=TRAIN_CHOICES)
    data_flags(t)
    t.add_argument("--ckpt-dir", default="", help="run directory (default runs/hw_<task>)")
    t.add_argument("--init-from", default="",
                   help="start a NEW run (empty --ckpt-dir) from the params of this checkpoint (its latest "
                        "step): architecture, charset and kappa scale come from it (architecture flags must "
                        "match where given; the data scale must match); fresh optimizer at step 0 (use a "
                        "lower --lr to fine-tune). Ignored when --ckpt-dir already holds a run")
    add_time_budget(t)
    t.add_argument("--compile-cache", default=".cache/jax",
                   help="persistent XLA compilation cache (a resumed chunk skips compiling); '' disables")
    t.set_defaults(fn=cmd_train)

    g = sub.add_parser("generate", help="write handwriting for a text (no data needed)")
    ckpt_flags(g)
    g.add_argument("--text", action="append", help="text to write (repeat for several lines)")
    g.add_argument("--n", type=int, default=1, help="number of lines (texts are cycled)")
    g.add_argument("--bias", type=float, default=sample.BIAS,
                   help="sampling bias b (eqs 61-62): 0 = raw samples, larger = neater")
    g.add_argument("--temperature", type=float, default=sample.TEMPERATURE,
                   help="softmax/variance temperature")
    g.add_argument("--style", type=int, default=None,
                   help="prime with shipped real line ID (0-7) to imitate its writer")
    g.add_argument("--prime-strokes", default="",
                   help="prime with your own line: a JSON ([[x, y, t], ...] per stroke), InkML or IAM-OnDB "
                        "XML stroke file, or a style saved with --save-style")
    g.add_argument("--prime-text", default="", help="what the --prime-strokes line says (its transcript)")
    g.add_argument("--save-style", default="", help="also save the --prime-strokes style as JSON for reuse")
    g.add_argument("--max-steps", type=int, default=0,
                   help="synthesis: points per line at most (0: two characters' worth per character); "
                        f"prediction: points before the line ends at its next pen-up (0: "
                        f"{sample.PREDICTION_STEPS})")
    g.add_argument("--seed", type=int, default=0, help="PRNG seed")
    g.add_argument("--bf16", action="store_true", help="bf16 matmuls while sampling (faster on GPUs)")
    g.add_argument("--stop-tail", type=int, default=-1,
                   help="points allowed after the stopping rule fires, to finish the last stroke "
                        "(-1: two characters' worth; 0: stop at once as in Graves §5.2)")
    g.add_argument("--out", default="out/handwriting.svg", help="output .svg or .png")
    g.add_argument("--x-height", type=float, default=X_HEIGHT_PX,
                   help="height of a lowercase x in the output, in px (strokes are 1/20 of it)")
    g.add_argument("--width", type=float, default=0,
                   help="output width in px; wider lines are shrunk to fit (0: as wide as the longest line)")
    g.add_argument("--line-height", type=float, default=0,
                   help="least distance from one line's top to the next one's, in px (0: box height plus "
                        "3/4 x-height)")
    g.add_argument("--plot-attention", default="",
                   help="also save the first line with its window weights phi to this .png")
    g.set_defaults(fn=cmd_generate)

    for name, fn, text in (("eval", cmd_eval, "validation NLL per line and per point"),
                           ("plot", cmd_plot, "density / attention / window figures of a validation "
                                              "line")):
        e = sub.add_parser(name, help=text)
        ckpt_flags(e)
        data_flags(e)
        e.add_argument("--max-len", type=int, default=0, help="points per line (0: as trained)")
        e.add_argument("--batch-size", type=int, default=64, help="lines per batch")
        if name == "plot":
            e.add_argument("--index", type=int, default=0, help="which validation line")
            e.add_argument("--out", default="out/handwriting_plots", help="output folder")
        e.set_defaults(fn=fn)

    add_export(sub, metric="val_nll_point")
    return ap


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.fn(a)


if __name__ == "__main__":
    run(main)
