"""Word embeddings (PyTorch word-embeddings tutorial, word2vec, TensorFlow's NCE example): the N-gram
language model, CBOW and skip-gram, trained with the full softmax, NCE (``tf.nn.nce_loss``) or negative
sampling on the words of tiny Shakespeare or of the English side of eng-fra::

    from jaxseq import embeddings
    wv = embeddings.load("runs/emb/shakespeare_skipgram_neg/ckpt")
    wv.neighbours(["king"], k=8)
"""
from jaxseq.models.embeddings.api import WordVectors, load
from jaxseq.models.embeddings.corpus import CORPORA, WordCorpus, build, examples, read_sentences
from jaxseq.models.embeddings.losses import SAMPLERS, negative_sampling, nce, sampler_probs, softmax_nll
from jaxseq.models.embeddings.model import (LOSSES, MODELS, EmbedModelConfig, Noise, encode, init,
                                            make_loss)
from jaxseq.models.embeddings.training import EmbedConfig, nearest, pca_2d, train

__all__ = ["WordVectors", "load", "CORPORA", "WordCorpus", "build", "examples", "read_sentences",
           "SAMPLERS", "negative_sampling", "nce", "sampler_probs", "softmax_nll", "LOSSES", "MODELS",
           "EmbedModelConfig", "Noise", "encode", "init", "make_loss", "EmbedConfig", "nearest", "pca_2d",
           "train"]
