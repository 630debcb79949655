"""Train an MLP GAN, conditional GAN or InfoGAN on Fashion-MNIST (or MNIST); sample from it, export its
generator, draw its grids and score it.

    python experiments/gan.py train --model cgan --epochs 100 --out runs/cgan
    python experiments/gan.py sample --ckpt runs/cgan/ckpt --n 100 --labels 7 --out sneakers.png
    python experiments/gan.py export --ckpt runs/cgan/ckpt --out runs/cgan/generator --dtype float16
    python experiments/gan.py figures --ckpt runs/cgan/generator --out-dir docs/img/images
    python experiments/gan.py score --ckpt runs/cgan/generator --n 10000

Re-running `train` with the same --out resumes from <out>/ckpt (a finished run only redraws its grids).
`train` writes <out>/history.json (losses every --chunk steps) and the grids. `score` computes the Fréchet
distance between the features of --n generated images and of the 10,000 Fashion-MNIST test images in the
penultimate layer of the shipped CNN classifier (jaxseq.models.cnn.frechet), and for a cgan the share of
samples of each class that the classifier labels as that class.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from _cli import (add_config_flags, add_time_budget, config_from_args, fail, out_path, parser, run,
                  subparsers, time_budget_s)

from jaxseq.data import mnist
from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.models.gan import api, training
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import write_history

HELP = {"model": "gan (unconditional), cgan (label on both sides) or infogan (categorical + continuous "
                 "codes, Q head on the discriminator)",
        "data": "data set (IDX files under <data-dir>/<name>/)",
        "z_dim": "noise size (0: 100 for gan/cgan, 62 for infogan as in the InfoGAN paper)",
        "hidden": "hidden units of the generator and of the discriminator",
        "n_cont": "infogan: continuous codes, U(-1, 1)",
        "lam_cat": "infogan: weight of the categorical mutual-information term",
        "lam_cont": "infogan: weight of the continuous mutual-information term",
        "d_dropout": "dropout rate on the discriminator's hidden layer while training",
        "epochs": "training epochs (may be fractional)", "batch_size": "batch size",
        "lr": "Adam learning rate (G and D)", "beta1": "Adam beta1",
        "chunk": "steps per jitted lax.scan (one history row each)",
        "ckpt_every": "save a checkpoint every N steps (0: only at the end)",
        "seed": "seed for init, noise and batch order", "progress": "tqdm progress bar"}


def class_names(meta):
    from jaxseq.models.row_lstm.training import CLASS_NAMES
    return CLASS_NAMES.get(meta.get("data", "fashion-mnist"), [str(k) for k in range(10)])


def figures(m: api.GAN, out_dir: Path, seed=0):
    """The model's grids as PNGs in ``out_dir``: samples (gan), one row per class (cgan), one row per
    categorical code and one traversal per continuous code (infogan). Yields the paths."""
    from jaxseq.viz.images import save_grid, save_progression
    prefix = "gan" if m.kind == "gan" else f"gan_{m.kind}"
    cols = 10
    if m.kind == "gan":
        yield save_grid(out_dir / f"{prefix}_samples.png", m.sample(100, seed), cols)
        return
    k = m.config.n_classes
    grid = m.class_grid(cols, seed).reshape(k, cols, 28, 28)
    if m.kind == "cgan":
        yield save_progression(out_dir / f"{prefix}_classes.png", list(grid), class_names(m.meta),
                               title="CGAN: one row per class label, noise z ~ U(-1, 1)")
        return
    yield save_progression(out_dir / f"{prefix}_categorical.png", list(grid), [f"c1 = {i}" for i in range(k)],
                           title="InfoGAN: one row per categorical code c1 (continuous codes 0)")
    for j in range(m.config.n_cont):
        t = m.traverse(j, cols, 10, seed).reshape(10, cols, 28, 28)
        yield save_progression(out_dir / f"{prefix}_cont{j + 1}.png", list(t),
                               [f"c1 = {i % k}" for i in range(10)],
                               title=f"InfoGAN: c2[{j + 1}] from -1 to 1 along each row (other codes fixed)")


def cmd_train(a):
    cfg = config_from_args(training.GANTrainConfig, a)
    budget = time_budget_s(a)
    out = as_path(a.out)
    check_output_dir(out)
    xtr, ytr, _, _, desc = mnist.load_split(cfg.data, a.data_dir)
    print(desc)
    t0 = time.time()
    params, hist, done, steps = training.train(cfg, xtr, ytr, out / "ckpt", meta={"split": desc},
                                               time_budget_s=budget)
    if hist:
        write_history(out, list(hist))
    print(f"trained {done} of {steps} steps in {time.time() - t0:.0f} s")
    if done < steps:
        print("stopped by the time budget; run the same command again to continue")
        return
    last = next((h for h in reversed(hist)), None)
    if last:
        print(json.dumps(last))
    m = api.GAN(params, training.model_config(cfg), {"data": cfg.data})
    for f in figures(m, out, cfg.seed):
        print("wrote", f)


def cmd_sample(a):
    m = api.load(a.ckpt)
    labels = None if a.labels is None else int(a.labels)
    if a.n < 1:
        fail(f"--n {a.n}: give at least 1")
    dest = out_path(a.out)
    from jaxseq.viz.images import save_grid
    save_grid(dest, m.sample(a.n, a.seed, labels), a.cols)
    print("wrote", dest)


def cmd_export(a):
    step = training.export_generator(a.ckpt, a.out, step=a.step, dtype=a.dtype)
    print(f"exported the generator of step {step} of {a.ckpt} to {a.out} ({a.dtype})")


def cmd_figures(a):
    m = api.load(a.ckpt)
    out = as_path(a.out_dir)
    check_output_dir(out)
    for f in figures(m, out, a.seed):
        print("wrote", f)


def cmd_score(a):
    from jaxseq.models.cnn import frechet
    m = api.load(a.ckpt)
    _, _, xte, _, desc = mnist.load_split(m.meta.get("data", "fashion-mnist"), a.data_dir)
    t0 = time.time()
    fake = m.sample(a.n, a.seed)
    real = xte.reshape(-1, 28, 28).astype(np.float32) / 255.0
    res = {"model": m.kind, "ckpt": str(a.ckpt), "step": m.meta.get("step"), "n_samples": a.n,
           "data": desc, "frechet": frechet.frechet_distance(frechet.features(fake), frechet.features(real)),
           "real_data_reference": frechet.reference()}
    if m.kind == "cgan":
        k = m.config.n_classes
        per = a.n // k
        got = np.asarray(frechet.classify(m.class_grid(per, a.seed + 1)))
        acc = (got.reshape(k, per) == np.arange(k)[:, None]).mean(1)
        res["class_accuracy"] = dict(zip(class_names(m.meta), [round(float(v), 4) for v in acc]))
        res["mean_class_accuracy"] = float(acc.mean())
    if m.kind == "infogan":   # what each categorical code draws, as the classifier sees it
        k = m.config.n_classes
        per = a.n // k
        got = np.asarray(frechet.classify(m.class_grid(per, a.seed + 1))).reshape(k, per)
        counts = np.stack([np.bincount(r, minlength=10) for r in got]) / per
        names = class_names(m.meta)
        res["codes"] = {f"c1={i}": f"{names[int(c.argmax())]} {c.max():.3f}" for i, c in enumerate(counts)}
        res["code_purity"] = float(counts.max(1).mean())   # mean share of each code's majority class
    res["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(res, indent=1))
    if a.json:
        write_atomic(out_path(a.json, "--json"), json.dumps(res, indent=1))


def cmd_curves(a):
    """D and G losses (and InfoGAN's categorical MI bound) over training, one line per run."""
    from jaxseq.viz.figures import curves, save_figure
    runs = {}
    for d in a.runs:
        path = Path(d) / "history.json"
        if not path.exists():
            fail(f"{path} not found: give experiments/gan.py train --out folders")
        runs[Path(d).name] = json.loads(path.read_text())
    panels = [(k, t) for k, t in (("d_loss", "discriminator BCE"), ("g_loss", "generator -log D(G(z))"),
                                  ("mi_cat", "InfoGAN: log 10 - CE of Q(c1|x)"))
              if any(k in h for rows in runs.values() for h in rows)]

    def series(key):
        return {name: ([h["step"] for h in rows if key in h], [h[key] for h in rows if key in h])
                for name, rows in runs.items() if any(key in h for h in rows)}

    def draw(fig):
        for ax, (key, title) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
            curves(ax, series(key), title=title)
    dest = out_path(a.out)
    save_figure(dest, draw, size=(4 * len(panels), 3), dpi=80)
    print("wrote", dest)


def parse(argv):
    p = parser(__doc__)
    sub = subparsers(p)
    t = sub.add_parser("train", help="train (or resume) a gan / cgan / infogan")
    add_config_flags(t, training.GANTrainConfig, help=HELP,
                     choices={"model": list(training.gm.KINDS), "data": sorted(mnist.SETS)})
    t.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    t.add_argument("--out", default="runs/gan", help="output folder: ckpt/, history.json, grids")
    add_time_budget(t)
    t.set_defaults(fn=cmd_train)
    s = sub.add_parser("sample", help="a PNG grid of samples")
    s.add_argument("--ckpt", required=True, help="run's ckpt folder, an exported generator or a shipped name")
    s.add_argument("--n", type=int, default=100, help="images")
    s.add_argument("--cols", type=int, default=10, help="images per row")
    s.add_argument("--labels", type=int, default=None,
                   help="cgan: class of every image; infogan: categorical code (None: random)")
    s.add_argument("--seed", type=int, default=0, help="noise seed")
    s.add_argument("--out", default="gan_samples.png", help="PNG file")
    s.set_defaults(fn=cmd_sample)
    x = sub.add_parser("export", help="params-only copy of the generator (for sampling and shipping)")
    x.add_argument("--ckpt", required=True, help="training run's ckpt folder")
    x.add_argument("--out", required=True, help="destination directory (must not hold a checkpoint)")
    x.add_argument("--step", type=int, default=None, help="this step (default: the latest)")
    x.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="stored weight type (sampling computes in float32)")
    x.set_defaults(fn=cmd_export)
    f = sub.add_parser("figures", help="the model's grids (samples / class rows / code traversals) as PNGs")
    f.add_argument("--ckpt", required=True, help="checkpoint folder or exported generator")
    f.add_argument("--out-dir", default=".", help="folder for gan_*.png")
    f.add_argument("--seed", type=int, default=0, help="noise seed")
    f.set_defaults(fn=cmd_figures)
    c = sub.add_parser("score", help="Fréchet distance to the test images (and cgan class accuracy)")
    c.add_argument("--ckpt", required=True, help="checkpoint folder or exported generator")
    c.add_argument("--n", type=int, default=10000, help="generated images")
    c.add_argument("--seed", type=int, default=0, help="noise seed")
    c.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    c.add_argument("--json", default=None, help="also write the result to this JSON file")
    c.set_defaults(fn=cmd_score)
    v = sub.add_parser("curves", help="losses over training of one or more runs, as one PNG")
    v.add_argument("--runs", nargs="+", required=True, help="train --out folders (with history.json)")
    v.add_argument("--out", default="gan_curves.png", help="PNG file")
    v.set_defaults(fn=cmd_curves)
    return p.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    a.fn(a)


if __name__ == "__main__":
    run(main)
