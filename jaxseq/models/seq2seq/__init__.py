"""The encoder-decoders the tutorials teach, side by side with Luong NMT on the same eng-fra data.

- :mod:`.simple`: encoder final state = context vector, no attention (Sutskever / Cho; the PyTorch
  tutorial's ``DecoderRNN``);
- :mod:`.tutorial_attn`: the PyTorch tutorial's ``AttnDecoderRNN`` (location-based attention over a
  fixed ``max_length``), with padding masks;
- :mod:`.transformer`: a pre-LN Transformer baseline (sinusoidal positions, 3+3 layers, d=256, label
  smoothing).

They share the recurrent encoder with :mod:`jaxseq.models.nmt` (:mod:`.common`), the one search of
:mod:`jaxseq.search` (:mod:`.decode`), NMT's data preparation and :mod:`jaxseq.metrics` (:mod:`.training`)
and NMT's translator checks (:mod:`.api`)::

    from jaxseq.models import seq2seq
    tr = seq2seq.load("runs/seq2seq/transformer")     # a training run or an export
    tr.translate(["i am cold ."], beam=5)
"""
from jaxseq.models.seq2seq.api import Translation, Translator, load, restore
from jaxseq.models.seq2seq.common import MODELS

__all__ = ["MODELS", "Translator", "Translation", "load", "restore"]
