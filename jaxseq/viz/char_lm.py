"""Plots of the scheduled-sampling experiment: validation NLL, sample quality and eps over training."""
from __future__ import annotations

from jaxseq.viz.figures import save_figure

LABELS = {"tf": "teacher forcing", "ss": "scheduled sampling"}
PANELS = (("val_bits_per_char", "validation NLL, teacher-forced (bits/char)"),
          ("val_sample_ngram_bpc", "free-running samples under a 5-gram LM (bits/char)"),
          ("val_sample_real_words", "fraction of sampled words that are real"),
          ("eps", "eps: P(feed ground truth)"))


def ss_curves(histories, path, ref_bpc=None):
    """``histories``: {mode: fit history}; four panels side by side; ``ref_bpc`` (real validation text
    under the 5-gram model) as a dotted line in the sample panel. Returns the path."""
    def draw(fig):
        ax = fig.subplots(1, len(PANELS))
        for mode, hist in histories.items():
            for a, (k, title) in zip(ax, PANELS):
                if k == "eps":  # train rows; teacher forcing logs no eps: it is 1
                    rows = [(h["step"], h.get("eps", 1.0)) for h in hist if "loss" in h]
                else:
                    rows = [(h["step"], h[k]) for h in hist if k in h]
                if rows:
                    a.plot(*zip(*rows), "-" if k == "eps" else "o-", ms=3, label=LABELS.get(mode, mode))
                a.set_title(title, fontsize=9)
                a.set_xlabel("step")
        if ref_bpc is not None:
            ax[1].axhline(ref_bpc, color="k", ls=":", lw=1, label="real validation text")
        ax[0].legend(fontsize=8)
        ax[1].legend(fontsize=8)
    return save_figure(path, draw, size=(18, 3.8), dpi=70)
