"""CycleGAN (Zhu et al. 2017) between two unpaired image domains. horse2zebra is not available here, so the
default domains are Fashion-MNIST sneakers (A, class 7) and ankle boots (B, class 9), taken from disjoint
random halves of the training images; scores use the held-out test images of both classes.

    python experiments/cyclegan.py train --steps 4000 --out runs/cyclegan
    python experiments/cyclegan.py evaluate --ckpt runs/cyclegan/ckpt --figures runs/cyclegan
    python experiments/cyclegan.py translate --direction a2b --from-test 16 --out boots.png
    python experiments/cyclegan.py translate --input sneakers.npy --out boots.npy
    python experiments/cyclegan.py export --ckpt runs/cyclegan/ckpt --out ckpt/cyclegan/sneaker_boot

train resumes from <out>/ckpt when it holds a run (the same command continues after --time-budget), then
scores the test images (cycle L1, and with the Fashion-MNIST classifier of jaxseq.models.cnn.frechet the
fraction of translated images it assigns to the target class and the Fréchet distance to the real target
images), writes <out>/results.json and the figures. translate and evaluate default to the shipped
generators (ckpt/cyclegan/sneaker_boot).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from _cli import (add_config_flags, add_time_budget, config_from_args, fail, out_path, parser, run,
                  subparsers, time_budget_s)

from jaxseq.data import images as imx
from jaxseq.data import mnist
from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.models import cyclegan
from jaxseq.models.cyclegan import evaluate as cg_eval
from jaxseq.models.cyclegan.training import DATA, FASHION_CLASSES

HELP = {"data": "the domains: two classes of an IDX set, or horse2zebra (not available here; see "
                "jaxseq.data.horse2zebra)", "photo_size": "horse2zebra only: side the photos are resized to",
        "domain_a": "class of domain A (7: sneaker)",
        "domain_b": "class of domain B (9: ankle boot)", "ngf": "generator width of the first layer",
        "n_res": "residual blocks per generator", "n_down": "stride-2 down/upsamplings per generator", "ndf": "discriminator width of the first layer",
        "d_layers": "stride-2 layers of the PatchGAN discriminator",
        "lambda_cyc": "cycle-consistency weight", "lambda_id": "identity weight relative to lambda-cyc "
        "(0: no identity loss)", "pool_size": "history pool of generated images per domain (0: none)",
        "steps": "training steps", "batch_size": "images of each domain per step",
        "lr": "Adam learning rate", "beta1": "Adam beta1",
        "decay_from": "fraction of the steps after which the learning rate falls linearly to 0",
        "seed": "seed for init, the domain split, batches and the pool",
        "log_every": "history row every N steps"}


def parse(argv):
    p = parser(__doc__)
    sub = subparsers(p)
    t = sub.add_parser("train", help="train (or resume) a CycleGAN, then score it and draw figures")
    add_config_flags(t, cyclegan.CycleGANTrainConfig, help=HELP, choices={"data": list(DATA)})
    t.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    t.add_argument("--out", default="runs/cyclegan", help="run folder: ckpt/, results.json, figures")
    t.add_argument("--eval-n", type=int, default=0, help="score only the first N test images of each "
                   "domain (0: all)")
    add_time_budget(t)
    t.set_defaults(fn=cmd_train)
    e = sub.add_parser("evaluate", help="score a checkpoint on the test images of both domains")
    e.add_argument("--ckpt", default=cyclegan.api.DEFAULT_CHECKPOINT, help="shipped name or directory")
    e.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    e.add_argument("--eval-n", type=int, default=0, help="first N test images of each domain (0: all)")
    e.add_argument("--out", default=None, help="write the numbers to this JSON file")
    e.add_argument("--figures", default=None, help="write the translation/cycle figures to this folder")
    e.set_defaults(fn=cmd_evaluate)
    r = sub.add_parser("translate", help="translate images with a trained pair of generators")
    r.add_argument("--ckpt", default=cyclegan.api.DEFAULT_CHECKPOINT, help="shipped name or directory")
    r.add_argument("--direction", default="a2b", choices=["a2b", "b2a"], help="A -> B or B -> A")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", default=None, help=".npy of images [N, H, W] (uint8, or floats in [0, 1])")
    src.add_argument("--from-test", type=int, default=None, metavar="N",
                     help="the first N test images of the source domain (needs the data)")
    r.add_argument("--data-dir", default=None, help="data root for --from-test")
    r.add_argument("--out", required=True, help="output: .npy (translated images) or .png (rows: input, "
                   "translation, cycle back)")
    r.set_defaults(fn=cmd_translate)
    x = sub.add_parser("export", help="the two generators of a run, for shipping (no discriminators)")
    x.add_argument("--ckpt", required=True, help="a training run's ckpt folder")
    x.add_argument("--out", required=True, help="destination directory (new or empty)")
    x.add_argument("--step", type=int, default=None, help="step to export (default: latest)")
    x.add_argument("--dtype", default="bfloat16", choices=["float32", "float16", "bfloat16"],
                   help="stored weight type (translation computes in float32)")
    x.set_defaults(fn=cmd_export)
    return p.parse_args(argv)


def _names(d):
    if d.get("data") == "fashion-mnist":
        return FASHION_CLASSES[d["a"]], FASHION_CLASSES[d["b"]]
    if d.get("data") == "mnist":
        return f"digit {d['a']}", f"digit {d['b']}"
    return str(d.get("a", "A")), str(d.get("b", "B"))


def _test_domains(m, data_dir, eval_n, spare=False):
    d = m.domains
    if not d:
        raise ValueError("this checkpoint does not record its domains; pass images with --input")
    if d["data"] == "horse2zebra":
        from jaxseq.data import horse2zebra
        return {f"test_{x.lower()}": horse2zebra.load_split("test", x, data_dir, size=d["photo_size"],
                                                          limit=eval_n or None) for x in "AB"}
    if spare:   # the real images of each class that training never saw, for the FD reference
        xtr, ytr, xte, yte, _ = mnist.load_split(d["data"], data_dir)
        dom = cyclegan.class_domains(xtr, ytr, xte, yte, d["a"], d["b"], d.get("seed", 0))
        return _first(dom, eval_n)
    _, _, xte, yte, _ = mnist.load_split(d["data"], data_dir)
    xte = imx.to_nhwc(xte)
    return _first({"test_a": xte[yte == d["a"]], "test_b": xte[yte == d["b"]]}, eval_n)


def _first(dom, n):
    """The domains' test (and spare) images, the first ``n`` of each (0: all)."""
    return {k: (v[:n] if n else v) for k, v in dom.items() if not k.startswith("train")}


def figures(m, xa, xb, folder, n=12, history=None):
    """cyclegan_a2b.png / cyclegan_b2a.png (rows: input, translation, cycle back) and, with a history,
    cyclegan_losses.png."""
    from jaxseq.viz.figures import curves, save_figure
    from jaxseq.viz.images import save_progression
    na, nb = _names(m.domains)
    out = []
    for x, d, src, dst, g, f in ((xa, "a2b", na, nb, "G", "F"), (xb, "b2a", nb, na, "F", "G")):
        fake, back = m.cycle(x[:n], d)
        rows = [imx.to_unit(x[:n]), fake, back]
        labels = [f"{src}", f"{g}(x): {dst}", f"{f}({g}(x))"]
        out.append(save_progression(Path(folder) / f"cyclegan_{d}.png", rows, labels,
                                    title=f"{src} -> {dst} -> {src} (held-out test images)"))
    if history:
        rows = [h for h in history if "loss_g" in h]
        steps = [h["step"] for h in rows]
        series = {k: (steps, [h[k] for h in rows]) for k in ("g_adv_ab", "g_adv_ba", "d_a", "d_b",
                                                             "cycle_a", "cycle_b") if k in rows[0]}
        out.append(save_figure(Path(folder) / "cyclegan_losses.png",
                               lambda fig: curves(fig.subplots(), series, ylabel="loss",
                                                  title="CycleGAN training losses (cycle: x lambda)"),
                               size=(7, 3.5), dpi=90))
    return out


def _score(m, dom):
    d = m.domains
    labelled = d.get("data") == "fashion-mnist"
    return cg_eval.score(m, dom["test_a"], dom["test_b"], d.get("a") if labelled else None,
                         d.get("b") if labelled else None, dom.get("spare_a"), dom.get("spare_b"))


def cmd_train(a):
    cfg = config_from_args(cyclegan.CycleGANTrainConfig, a)
    if a.eval_n < 0:
        fail(f"--eval-n {a.eval_n}: give 0 (all) or a positive count")
    out = check_output_dir(Path(a.out))
    domains, desc = cyclegan.load_domains(cfg, a.data_dir)
    print(desc)
    t0 = time.time()
    params, hist, done = cyclegan.train(cfg, domains, out / "ckpt", meta={"split": desc},
                                        time_budget_s=time_budget_s(a))
    train_s = time.time() - t0
    if done < cfg.steps:
        print(f"stopped at step {done} of {cfg.steps} (time budget); run the same command again to continue")
        return
    m = cyclegan.load(out / "ckpt")
    dom = _first(domains, a.eval_n)
    res = {**_score(m, dom), "steps": done, "train_s_this_chunk": round(train_s, 1), "split": desc,
           "final": {k: v for k, v in (hist[-1] if hist else {}).items()}}
    print(json.dumps(res, indent=1))
    write_atomic(out / "results.json", json.dumps(res, indent=1))
    hist_all = json.loads((out / "ckpt" / "history.json").read_text()) if (out / "ckpt" / "history.json").exists() else hist
    for f in figures(m, dom["test_a"], dom["test_b"], out, history=hist_all):
        print("wrote", f)


def cmd_evaluate(a):
    if a.eval_n < 0:
        fail(f"--eval-n {a.eval_n}: give 0 (all) or a positive count")
    dest = out_path(a.out) if a.out else None
    m = cyclegan.load(a.ckpt)
    dom = _test_domains(m, a.data_dir, a.eval_n, spare=m.domains.get("data") == "fashion-mnist")
    res = {"ckpt": str(a.ckpt), "step": m.meta.get("step"), **_score(m, dom)}
    print(json.dumps(res, indent=1))
    if dest:
        write_atomic(dest, json.dumps(res, indent=1))
    if a.figures:
        for f in figures(m, dom["test_a"], dom["test_b"], check_output_dir(Path(a.figures))):
            print("wrote", f)


def cmd_translate(a):
    dest = out_path(a.out)
    if dest.suffix not in (".npy", ".png"):
        fail(f"--out {dest}: give a .npy or .png file name")
    m = cyclegan.load(a.ckpt)
    if a.input is not None:
        try:
            x = np.load(a.input, allow_pickle=False)
        except (OSError, ValueError) as e:
            fail(f"--input {a.input}: cannot read a .npy array ({e})")
    else:
        if a.from_test < 1:
            fail(f"--from-test {a.from_test}: give a positive count")
        dom = _test_domains(m, a.data_dir, a.from_test)
        x = dom["test_a"] if a.direction == "a2b" else dom["test_b"]
        x = x[..., 0] if x.shape[-1] == 1 else x
    fake, back = m.cycle(x, a.direction)
    if dest.suffix == ".npy":
        write_atomic(dest, lambda f: np.save(f, fake))
    else:
        from jaxseq.viz.images import save_progression
        save_progression(dest, [imx.to_unit(np.asarray(x)), fake, back],
                         ["input", "translated", "cycled back"], title=f"CycleGAN {a.direction}")
    print(f"translated {len(fake)} images ({a.direction}) to {dest}")


def cmd_export(a):
    step = cyclegan.export_generators(a.ckpt, a.out, step=a.step, dtype=a.dtype)
    print(f"exported the generators of step {step} of {a.ckpt} to {a.out} ({a.dtype})")


def main(argv=None):
    a = parse(argv)
    a.fn(a)


if __name__ == "__main__":
    run(main)
