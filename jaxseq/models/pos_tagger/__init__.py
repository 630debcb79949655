"""LSTM part-of-speech tagger (PyTorch sequence-models tutorial) with the character-level augmentation::

    from jaxseq import pos_tagger
    pos_tagger.load().predict("The dog read the book")    # the shipped toy checkpoint

Trained on the tutorial's two toy sentences by default, or on any CoNLL-U treebank
(``experiments/pos_tagger.py train --train FILE.conllu --dev FILE.conllu``).
"""
from jaxseq.models.pos_tagger.api import Tagger, load
from jaxseq.models.pos_tagger.data import TOY, Vocabs, encode, load_tagged
from jaxseq.models.pos_tagger.model import TaggerModelConfig, init, logits, loss_fn
from jaxseq.models.pos_tagger.training import TaggerConfig, accuracy, train

__all__ = ["Tagger", "load", "TOY", "Vocabs", "encode", "load_tagged", "TaggerModelConfig", "init", "logits",
           "loss_fn", "TaggerConfig", "accuracy", "train"]
