"""jaxseq: classic sequence models as pure JAX functions.

The model families are importable from the top level, each with a small API (``load()``, then
``write`` / ``sample`` / ``translate`` ...)::

    from jaxseq import handwriting, sketch_rnn, nmt
    hand = handwriting.load()                  # the shipped checkpoint

Layers: ``jaxseq.nn`` (cells, scan, attention, mixtures, layers, precision), ``jaxseq.data`` (loaders and
formats), ``jaxseq.training`` (loop, checkpoints, schedules), ``jaxseq.models.<family>``, and
``jaxseq.search`` / ``jaxseq.metrics`` / ``jaxseq.viz``. Families load lazily, so ``import jaxseq`` is
cheap.
"""
from __future__ import annotations

import importlib

__version__ = "0.2.0"

FAMILIES = ("handwriting", "sketch_rnn", "nmt", "char_lm", "vae", "mdn_regression", "names", "row_lstm", "seq2seq",
            "embeddings", "pos_tagger", "dcgan", "began", "stn", "cnn", "cyclegan")


def __getattr__(name):
    if name in FAMILIES:
        return importlib.import_module(f"jaxseq.models.{name}")
    raise AttributeError(f"module 'jaxseq' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(FAMILIES))
