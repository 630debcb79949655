"""Bishop's (1994) inverse problem: learn p(y | x) where x = y + 0.3 sin(2 pi y) + U(-0.1, 0.1), y ~ U(0, 1).

For x in about (0.3, 0.7) three different y give the same x, so the conditional is multimodal. A
least-squares regression net learns the conditional mean, which lies between the branches and fits none;
a single Gaussian (mean + learned sigma, i.e. an MDN with one component) does the same with a wide
sigma; a mixture density network (jaxseq.nn.mixtures 1-D GMM) recovers the branches. Reports test NLL in
nats per point (and the regression net's MSE and its Gaussian NLL with the residual variance of the
training set), next to the exact NLL of the true conditional, and plots everything (mdn_toy.png and
results.json in --out). The models live in jaxseq.mdn_regression.

    python experiments/mdn_toy.py --out runs/mdn_toy
"""
from __future__ import annotations

import dataclasses
import json

from _cli import add_config_flags, config_from_args, parser, run

from jaxseq import mdn_regression as mr
from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.paths import as_path, is_remote
from jaxseq.training.loop import is_main_process

HELP = {"n_train": "training points", "n_test": "test points (another seed)",
        "hidden": "width of the two tanh hidden layers", "n_mix": "MDN mixture components",
        "steps": "full-batch Adam steps per model", "lr": "Adam learning rate (cosine-decayed)",
        "seed": "seed for data and init"}


def main(argv=None):
    p = parser(__doc__)
    add_config_flags(p, mr.ToyConfig, help=HELP)
    p.add_argument("--out", default="runs/mdn_toy", help="folder for mdn_toy.png and results.json")
    a = p.parse_args(argv)
    cfg = config_from_args(mr.ToyConfig, a)
    out = as_path(a.out)            # gs://bucket/run stays a URI (an error now if gcsfs is missing)
    if not is_remote(out):
        check_output_dir(out)       # before any work
    models, res, data = mr.fit_toy(cfg, progress=True)
    if not is_main_process():       # the scores and the figure are local: process 0 alone writes
        return res
    res["config"] = dataclasses.asdict(cfg)
    print(json.dumps(res, indent=1))
    write_atomic(out / "results.json", json.dumps(res, indent=1))
    from jaxseq.viz.mdn_regression import toy_figure
    x, y = (v[:1500] for v in data["test"])
    fd = mr.figure_data(models, cfg, (float(x.min()), float(x.max())))
    print("wrote", toy_figure(out / "mdn_toy.png", fd, x, y, cfg.n_mix))
    return res


if __name__ == "__main__":
    run(main)
