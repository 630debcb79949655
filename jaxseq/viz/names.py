"""Plots of the name models: the classifier's confusion matrix and the generator's held-out NLL per
language, conditional against unconditional."""
from __future__ import annotations

import numpy as np

from jaxseq.viz.figures import heatmap, save_figure


def plot_confusion(path, confusion, languages, title=""):
    """``confusion [true, predicted]`` counts, each row normalised to 1 (recall on the diagonal).
    Returns the path."""
    c = np.asarray(confusion, np.float64)
    norm = c / np.maximum(c.sum(1, keepdims=True), 1.0)

    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        heatmap(ax, norm, languages, languages, title=title or None, xlabel="predicted", ylabel="true")
        ax.title.set_fontsize(9)
    return save_figure(path, draw, size=(6.5, 6), dpi=90)


def plot_nll_per_language(path, results, title=""):
    """``results``: {label: {language: nll per token}}; grouped bars, one group per language."""
    labels = list(results)
    langs = list(next(iter(results.values())))

    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        w = 0.8 / max(len(labels), 1)
        x = np.arange(len(langs))
        for i, lab in enumerate(labels):
            ax.bar(x + i * w, [results[lab][g] for g in langs], w, label=lab)
        ax.set_xticks(x + w * (len(labels) - 1) / 2)
        ax.set_xticklabels(langs, rotation=60, ha="right")
        ax.set_ylabel("test NLL (nats per letter, end included)")
        if title:
            ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
    return save_figure(path, draw, size=(9, 4), dpi=90)
