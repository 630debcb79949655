"""Luong et al. (2015) attention NMT: model, decoding, training helpers and a small public API::

    from jaxseq import nmt
    fr = nmt.load("eng-fra")                      # the shipped ckpt/nmt_luong/eng-fra; or a checkpoint path
    fr.translate(["i am cold ."], beam=5)         # -> ["je suis froid ."]
    out = fr.translate(["i am cold ."], return_attention=True)    # -> [Translation(text, ..., attention)]

``BEAM`` and ``ALPHA`` are the defaults of ``translate`` and of the CLI (``experiments/nmt_luong.py``).
``translate`` refuses (``ValueError``) empty sentences, sentences without a known word and sentences over
``MAX_WORDS`` tokens; unknown words among known ones become <unk> with a logged warning naming them.
"""
from jaxseq.models.nmt.model import NMTConfig, decoder_start, decoder_step, init, make_loss, restore, save
from jaxseq.models.nmt.translate import ALPHA, BEAM, MAX_WORDS, Translation, Translator, load

__all__ = ["NMTConfig", "init", "make_loss", "decoder_start", "decoder_step", "save", "restore", "load",
           "Translator", "Translation", "BEAM", "ALPHA", "MAX_WORDS"]
