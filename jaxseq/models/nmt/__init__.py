"""Luong et al. (2015) attention NMT: model, decoding, training helpers and a small public API::

    from jaxseq import nmt
    fr = nmt.load("eng-fra")                      # the shipped true-case ckpt/nmt_luong/eng-fra (or fra-eng)
    fr.translate(["Where is the station?"], beam=5)            # -> ["Où est la gare ?"]
    out = fr.translate(["I'm tired."], return_attention=True)  # -> [Translation(text, ..., attention)]
    fr.translate_n_best(["I'm tired."], 3)        # -> [[(text, score), ...]], best first

``BEAM`` and ``ALPHA`` are the defaults of ``translate`` and of the CLI (``experiments/nmt_luong.py``).
A true-case model (joint SentencePiece subwords in its meta) reads raw text and writes detokenised text;
a tutorial-normalised one reads and writes lower-case words. ``translate`` refuses (``ValueError``) empty
sentences and sentences over ``MAX_WORDS`` tokens; a word model also refuses sentences without a known
word and translates unknown words among known ones as <unk> with a logged warning naming them.
"""
from jaxseq.models.nmt.model import NMTConfig, decoder_start, decoder_step, init, make_loss, restore, save
from jaxseq.models.nmt.translate import ALPHA, BEAM, MAX_WORDS, Translation, Translator, load

__all__ = ["NMTConfig", "init", "make_loss", "decoder_start", "decoder_step", "save", "restore", "load",
           "Translator", "Translation", "BEAM", "ALPHA", "MAX_WORDS"]
