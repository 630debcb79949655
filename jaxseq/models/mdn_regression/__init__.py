"""Mixture density networks for scalar regression (Bishop 1994), with the least-squares and single-Gaussian
baselines, on Bishop's inverse problem; ``experiments/mdn_toy.py`` runs the comparison.

    from jaxseq import mdn_regression as mr
    models, results, data = mr.fit_toy(mr.ToyConfig(steps=1000))   # the CLI's defaults otherwise
    results["mdn_nll"], results["true_conditional_nll"]
    mix = mr.predict(models["mdn"], x, "mdn", n_mix=5)             # {log_pi, mu, log_sigma}: [N, 5]
"""
from __future__ import annotations

from jaxseq.models.mdn_regression.bishop import make_data, true_log_prob
from jaxseq.models.mdn_regression.model import KINDS, init, log_prob, loss_fn, predict
from jaxseq.models.mdn_regression.training import (ToyConfig, density, evaluate, figure_data, fit_model,
                                                   fit_toy)

__all__ = ["ToyConfig", "fit_toy", "fit_model", "evaluate", "predict", "log_prob", "density", "init",
           "loss_fn", "make_data", "true_log_prob", "figure_data", "KINDS"]
