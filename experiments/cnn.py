"""The CIFAR-10 tutorial's CNN classifier (conv-pool-conv-pool-fc-fc-fc with dropout), trained on
Fashion-MNIST (or MNIST, or CIFAR-10 where its archive is present); transfer learning from Fashion-MNIST
to a split of the MNIST test set; the shipped Fashion-MNIST classifier also gives the Fréchet-distance
features of the GAN pages.

    python experiments/cnn.py train --data fashion-mnist --epochs 10 --out runs/cnn/fmnist \\
        --export ckpt/cnn/fashion-mnist                 # best step, bf16, with test acc + FD reference
    python experiments/cnn.py train --data cifar10 --size 32 --out runs/cnn/cifar10   # needs the archive
    python experiments/cnn.py eval --ckpt ckpt/cnn/fashion-mnist        # test accuracy, FD reference
    python experiments/cnn.py transfer --pretrained ckpt/cnn/fashion-mnist --out runs/cnn/transfer
    python experiments/cnn.py export --ckpt runs/cnn/fmnist/ckpt --pick best --out DIR

Re-running ``train`` with the same --out resumes from <out>/ckpt (a finished run only evaluates).
``transfer`` fine-tunes on MNIST t10k split 8,000 / 2,000 (seeded; NOT the standard MNIST split, whose
60k training images are not on this machine) three ways and skips the ways already in <out>.
From Python: ``from jaxseq.models.cnn import api; api.load().predict(images)``.
"""
from __future__ import annotations

import os

# Grow GPU memory on demand instead of grabbing 75% of it: other jobs may share the GPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import dataclasses
import json
import sys
import time

import numpy as np

from _cli import add_config_flags, add_export, add_time_budget, config_from_args, fail, parser, run
from _cli import subparsers, time_budget_s

from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.models.cnn import training as ct
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import write_history

HELP = {"data": "data set: fashion-mnist, mnist (IDX files) or cifar10 (the python-version tarball)",
        "t10k_split": "if > 0: train on this fraction of the 10k TEST images and score the rest (MNIST "
                      "here, where only t10k exists; not the standard split)",
        "size": "input size: 28 (IDX native), 32 (IDX zero-padded; CIFAR-10)",
        "dropout": "dropout after each hidden fc layer (train mode only)",
        "epochs": "training epochs (may be fractional)", "batch_size": "images per batch",
        "lr": "Adam learning rate (cosine-decayed to a tenth)",
        "val_frac": "seeded share of the training images held out to pick the best step",
        "eval_every": "steps between validation passes and checkpoints", "seed": "init, split, batches, dropout"}


def _ints(text, flag):
    try:
        v = tuple(int(t) for t in text.split(",") if t)
    except ValueError:
        v = ()
    if not v:
        fail(f"{flag} {text!r}: give comma-separated integers such as 6,16")
    return v


def add_data_flags(p):
    p.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    p.add_argument("--cifar-path", default=None, help="cifar10: the cifar-10-python.tar.gz archive or its "
                   "extracted folder (default: <data-dir>/cifar10/, else downloaded with its MD5)")


def add_train(sub):
    p = sub.add_parser("train", help="train the CNN; report test accuracy of the best validation step")
    add_config_flags(p, ct.CNNTrainConfig, skip=("channels", "hidden"), help=HELP,
                     choices={"data": ct.DATASETS, "size": [28, 32]})
    p.add_argument("--channels", default=",".join(map(str, ct.CNNTrainConfig.channels)),
                   help="conv widths, comma-separated (the tutorial's 6,16)")
    p.add_argument("--hidden", default=",".join(map(str, ct.CNNTrainConfig.hidden)),
                   help="hidden fc widths, comma-separated (the tutorial's 120,84; the last is the "
                        "feature size)")
    add_data_flags(p)
    p.add_argument("--out", default="runs/cnn", help="output folder: ckpt/, results.json, history.json")
    p.add_argument("--export", metavar="DIR", help="after training: params-only copy of the best step "
                   "with its test accuracy (and, for Fashion-MNIST 28x28, the Fréchet reference)")
    p.add_argument("--export-dtype", default="bfloat16", choices=["float32", "float16", "bfloat16"],
                   help="stored weight type of the export")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    add_time_budget(p)
    p.set_defaults(fn=cmd_train)


def cmd_train(a):
    cfg = config_from_args(ct.CNNTrainConfig, a, channels=_ints(a.channels, "--channels"),
                           hidden=_ints(a.hidden, "--hidden"))
    budget = time_budget_s(a)
    out = as_path(a.out)
    check_output_dir(out)
    if a.export:
        check_output_dir(a.export)
    data = ct.load_data(cfg, a.data_dir, a.cifar_path)
    print(data["description"])
    t0 = time.time()
    params, hist, done, steps = ct.train(cfg, data, out / "ckpt", meta={"split": data["description"]},
                                         time_budget_s=budget, progress=a.progress)
    write_history(out, [dict(h) for h in hist])
    if done < steps:
        print(f"stopped at step {done} of {steps} ({hist.stopped}); run the same command again to continue")
        return
    res = {"data": cfg.data, "split": data["description"], "steps": steps,
           "train_s": round(time.time() - t0, 1),
           "val_acc": ct.accuracy(params, *data["val"]), "test_acc": ct.accuracy(params, *data["test"]),
           "n_test": int(len(data["test"][1]))}
    if a.export:
        step, meta = ct.export(out / "ckpt", a.export, data=data, dtype=a.export_dtype, data_dir=a.data_dir)
        res.update(export=str(a.export), export_step=step, export_dtype=a.export_dtype,
                   export_test_acc=meta["test_acc"], frechet=meta.get("frechet"))
    print(json.dumps(res, indent=1))
    write_atomic(out / "results.json", json.dumps(res, indent=1))


def add_eval(sub):
    p = sub.add_parser("eval", help="test accuracy of a checkpoint (and the Fréchet reference it stores)")
    p.add_argument("--ckpt", default="fashion-mnist", help="shipped name or checkpoint directory")
    add_data_flags(p)
    p.add_argument("--frechet", action="store_true",
                   help="also recompute the Fréchet real-data reference from the data (Fashion-MNIST)")
    p.add_argument("--figures", metavar="DIR", default=None,
                   help="write cnn_<data>_confusion.png and cnn_<data>_errors.png (misclassified test images)")
    p.set_defaults(fn=cmd_eval)


def cmd_eval(a):
    from jaxseq.models.cnn import api, frechet
    clf = api.load(a.ckpt)
    c = clf.meta.get("config", {})
    cfg = ct.CNNTrainConfig(**{k: c[k] for k in ("data", "t10k_split", "size", "seed") if k in c})
    if a.figures:
        check_output_dir(a.figures)
    data = ct.load_data(cfg, a.data_dir, a.cifar_path)
    xte, yte = data["test"]
    pred = ct.predict_logits(clf.params, xte).argmax(-1)
    conf = ct.confusion(yte, pred, clf.config.n_classes)
    res = {"ckpt": str(a.ckpt), "split": data["description"], "test_acc": float((pred == yte).mean()),
           "per_class_acc": {c: round(float(conf[i, i] / max(conf[i].sum(), 1)), 4)
                             for i, c in enumerate(clf.classes)},
           "stored_test_acc": clf.meta.get("test_acc"), "stored_frechet": clf.meta.get("frechet")}
    if a.frechet:
        res["frechet"] = frechet.compute_reference(a.data_dir, model=clf)
    print(json.dumps(res, indent=1))
    if a.figures:
        from jaxseq.data import images
        from jaxseq.viz.images import save_grid
        from jaxseq.viz.names import plot_confusion
        name = cfg.data.replace("-", "")
        print("wrote", plot_confusion(as_path(a.figures) / f"cnn_{name}_confusion.png", conf, clf.classes,
                                      f"{cfg.data} test set, accuracy {res['test_acc']:.2%} (row-normalised)"),
              file=sys.stderr)
        wrong = np.flatnonzero(pred != yte)[:40]
        print("wrote", save_grid(as_path(a.figures) / f"cnn_{name}_errors.png", images.to_unit(xte[wrong]),
                                 ncols=10), file=sys.stderr)
        print("errors grid (row-major): " + "; ".join(f"{clf.classes[yte[i]]}->{clf.classes[pred[i]]}"
                                                       for i in wrong), file=sys.stderr)


def add_transfer(sub):
    from jaxseq.models.cnn import transfer as tr
    p = sub.add_parser("transfer", help="pretrained Fashion-MNIST CNN -> MNIST t10k split: frozen "
                       "feature extractor + new head, full fine-tune, from scratch")
    add_config_flags(p, tr.TransferConfig, choices={"data": ["mnist", "fashion-mnist"]}, help={
        "data": "the new task (IDX data set)", "t10k_split": "share of the 10k test images trained on (the "
        "rest is scored); a seeded, NOT standard split", "epochs": "epochs per way",
        "lr": "Adam learning rate", "step_size": "StepLR: epochs between decays",
        "gamma": "StepLR: decay factor", "dropout": "dropout after each hidden fc layer",
        "seed": "new head init, batches, dropout (the split uses seed 0 always)"})
    p.add_argument("--pretrained", default="fashion-mnist",
                   help="pretrained CNN: shipped name or checkpoint directory")
    p.add_argument("--modes", default=",".join(tr.DEFAULT_MODES),
                   help=f"ways to run, comma-separated, among {','.join(tr.MODES)} (frozen_conv: only the "
                        f"convolutions frozen, all fc layers new)")
    p.add_argument("--data-dir", default=None, help="data root (None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    p.add_argument("--out", default="runs/cnn/transfer",
                   help="output folder: transfer_results.json (ways already there are skipped)")
    add_time_budget(p)
    p.set_defaults(fn=cmd_transfer)


def cmd_transfer(a):
    from jaxseq.data import images, mnist
    from jaxseq.models.cnn import api
    from jaxseq.models.cnn import transfer as tr
    cfg = config_from_args(tr.TransferConfig, a)
    modes = [m for m in a.modes.split(",") if m]
    bad = [m for m in modes if m not in tr.MODES]
    if bad or not modes:
        fail(f"--modes {a.modes!r}: choose among {','.join(tr.MODES)}")
    out = as_path(a.out)
    check_output_dir(out)
    budget = time_budget_s(a)
    pre = api.load(a.pretrained)
    if pre.config.size != 28 or pre.config.in_ch != 1:
        fail(f"--pretrained {a.pretrained}: a {pre.config.size}x{pre.config.size}x{pre.config.in_ch} "
             f"model; transfer to {cfg.data} needs a 28x28 1-channel one")
    xtr, ytr, xte, yte, desc = mnist.load_split(cfg.data, a.data_dir, t10k_split=cfg.t10k_split, seed=0)
    train, test = (images.to_nhwc(xtr), ytr), (images.to_nhwc(xte), yte)
    print(desc)
    path = out / "transfer_results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    t0 = time.time()
    for mode in modes:
        if results.get(mode, {}).get("complete"):
            print(f"{mode}: done already (test acc {results[mode]['test_acc']:.4f}); skipped")
            continue
        left = None if budget is None else budget - (time.time() - t0)
        if left is not None and left <= 0:
            print(f"{mode}: time budget spent; run the same command again to continue")
            break
        params, res = tr.run_mode(mode, pre.params, pre.config, cfg, train, test, time_budget_s=left)
        if mode.startswith("frozen"):
            res["body_unchanged"] = tr.body_unchanged(pre.params, params, mode)
        res.update(split=desc, pretrained=str(a.pretrained), config=dataclasses.asdict(cfg))
        print(f"{mode}: test acc {res['test_acc']:.4f} after {res['steps_done']} of {res['steps']} steps "
              f"({res['train_s']} s)" + ("" if res["complete"] else " (time budget; not kept)"))
        if res["complete"]:
            results[mode] = res
            write_atomic(path, json.dumps(results, indent=1))
    print(json.dumps({m: round(r["test_acc"], 4) for m, r in results.items()}))
    if results:
        from jaxseq.viz.figures import curves, save_figure

        def draw(fig):
            ax1, ax2 = fig.subplots(1, 2)
            curves(ax1, {m: (r["curve"]["epoch"], r["curve"]["train_loss"]) for m, r in results.items()},
                   xlabel="epoch", ylabel="mean training loss", logy=True)
            curves(ax2, {f"{m} ({r['test_acc']:.1%})": (r["curve"]["epoch"], r["curve"]["test_acc"])
                         for m, r in results.items()}, xlabel="epoch", ylabel="test accuracy")
            fig.suptitle(f"Fashion-MNIST CNN -> {cfg.data} (t10k split {len(xtr)}/{len(xte)})", fontsize=10)
        f = save_figure(out / "transfer_curves.png", draw, size=(9, 3.4), dpi=90)
        print("wrote", f, file=sys.stderr)


def main(argv=None):
    p = parser(__doc__)
    sub = subparsers(p)
    add_train(sub)
    add_eval(sub)
    add_transfer(sub)
    add_export(sub, default_pick="best", metric="val_acc")
    a = p.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    run(main)
