"""seq2seq plots: the PyTorch tutorial decoder's location-based attention (a weight per position of a
fixed ``max_length`` window, scored from the decoder state alone) beside Luong's global attention (a
weight per source word, scored against it), for the same sentences."""
from __future__ import annotations

from jaxseq.viz.figures import heatmap, save_figure


def plot_attention_comparison(path, rows, max_length, luong_titles=("Luong global attention",)):
    """``rows``: ``(tutorial, [luong, ...])`` translations of one sentence each, with ``source_tokens``,
    ``target_tokens`` and ``attention`` ([len(target) + 1, max_length] for the tutorial decoder,
    [len(target) + 1, len(source) + 1] for Luong). One row of heatmaps per sentence: the tutorial
    decoder, then each Luong model (``luong_titles``); window positions past the sentence (masked,
    weight 0) are labelled ``-``. Returns the path."""
    cols = 1 + len(rows[0][1])

    def draw(fig):
        for r, (tut, lus) in enumerate(rows):
            src = list(tut.source_tokens) + ["<eos>"]
            xs = [f"{i}:{w}" for i, w in enumerate(src[:max_length])] + \
                 [f"{i}:-" for i in range(len(src), max_length)]
            heatmap(fig.add_subplot(len(rows), cols, cols * r + 1), tut.attention, xs,
                    list(tut.target_tokens) + ["<eos>"], title=f"tutorial AttnDecoderRNN: position 0..{max_length - 1}",
                    xlabel="encoder position (Linear over [emb; h], no look at the source)")
            for c, (lu, title) in enumerate(zip(lus, luong_titles)):
                heatmap(fig.add_subplot(len(rows), cols, cols * r + 2 + c), lu.attention,
                        list(lu.source_tokens) + ["<eos>"], list(lu.target_tokens) + ["<eos>"], title=title,
                        xlabel="source word (score h_t . W h_s)")
        for ax in fig.axes:
            ax.title.set_fontsize(9)
            ax.xaxis.label.set_fontsize(8)
    width = 2 + 0.45 * (max_length + 1) + (cols - 1) * (2 + 0.45 * max(len(t.source_tokens) + 1 for t, _ in rows))
    height = sum(1.5 + 0.4 * (len(t.target_tokens) + 1) for t, _ in rows)
    return save_figure(path, draw, size=(width, height), dpi=100)
