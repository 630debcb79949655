"""Graves (2013) handwriting: the prediction (§4) and synthesis (§5) networks, from Python::

    from jaxseq import handwriting
    hand = handwriting.load()                    # the shipped synthesis checkpoint; a path; task="prediction"
    lines = hand.write(["hello world"] * 64, bias=1.0, style=3, seed=0)   # one jitted call
    hand.save_svg(lines, "hello.svg"); hand.save_png(lines, "hello.png")

The defaults (``BIAS``, ``TEMPERATURE``, the stop tail and step cap of ``sample.generate``) are the
command line's. Modules: ``model`` (init, the one layer-1 + window cell, forward, loss), ``sample``
(batched jitted sampling), ``training`` (batches, run setup, checkpoint meta, ``train``, ``evaluate``),
``api`` (this facade).
"""
from jaxseq.models.handwriting.api import Hand, inspect_line, load, resolve_checkpoint
from jaxseq.models.handwriting.model import HWConfig, make_loss
from jaxseq.models.handwriting.sample import BIAS, TEMPERATURE
from jaxseq.models.handwriting.style import Style
from jaxseq.models.handwriting.training import TrainSettings, train

__all__ = ["BIAS", "HWConfig", "Hand", "TEMPERATURE", "Style", "TrainSettings", "inspect_line", "load",
           "make_loss", "resolve_checkpoint", "train"]
