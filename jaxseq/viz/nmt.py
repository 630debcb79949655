"""NMT plots: an attention heatmap of one translated sentence."""
from __future__ import annotations

from jaxseq.viz.figures import heatmap, save_figure


def plot_attention(path, attention, source_tokens, target_tokens, title=""):
    """Save ``attention`` [len(target) + 1, len(source) + 1] (rows: output tokens then <eos>; columns:
    source tokens then <eos>) as a labelled heatmap. Returns the path."""
    xs, ys = list(source_tokens) + ["<eos>"], list(target_tokens) + ["<eos>"]

    def draw(fig):
        heatmap(fig.add_subplot(1, 1, 1), attention, xs, ys, title=title or None)
        fig.axes[0].title.set_fontsize(9)
    return save_figure(path, draw, size=(1 + 0.5 * len(xs), 1 + 0.45 * len(ys)), dpi=100)
