"""seq2seq plots: the PyTorch tutorial decoder's location-based attention (a weight per position of a
fixed ``max_length`` window, scored from the decoder state alone) beside Luong's global attention (a
weight per source word, scored against it), for the same sentences."""
from __future__ import annotations

from jaxseq.viz.figures import heatmap, save_figure


def plot_attention_comparison(path, rows, max_length):
    """``rows``: ``(tutorial, luong)`` pairs of translations with ``source_tokens``, ``target_tokens``
    and ``attention`` ([len(target) + 1, max_length] for the tutorial decoder, [len(target) + 1,
    len(source) + 1] for Luong). One row of two heatmaps per sentence; window positions past the
    sentence (masked, weight 0) are labelled ``-``. Returns the path."""
    def draw(fig):
        for r, (tut, lu) in enumerate(rows):
            src = list(tut.source_tokens) + ["<eos>"]
            cols = [f"{i}:{w}" for i, w in enumerate(src[:max_length])] + \
                   [f"{i}:-" for i in range(len(src), max_length)]
            heatmap(fig.add_subplot(len(rows), 2, 2 * r + 1), tut.attention, cols,
                    list(tut.target_tokens) + ["<eos>"],
                    title=f"tutorial AttnDecoderRNN: position 0..{max_length - 1}",
                    xlabel="encoder position (Linear over [emb; h], no look at the source)")
            heatmap(fig.add_subplot(len(rows), 2, 2 * r + 2), lu.attention,
                    list(lu.source_tokens) + ["<eos>"], list(lu.target_tokens) + ["<eos>"],
                    title="Luong global attention (general score)", xlabel="source word (h_t . W h_s)")
        for ax in fig.axes:
            ax.title.set_fontsize(9)
            ax.xaxis.label.set_fontsize(8)
    width = 4 + 0.45 * (max_length + max(len(lu.source_tokens) for _, lu in rows) + 1)
    height = sum(1.5 + 0.4 * (len(t.target_tokens) + 1) for t, _ in rows)
    return save_figure(path, draw, size=(width, height), dpi=100)
