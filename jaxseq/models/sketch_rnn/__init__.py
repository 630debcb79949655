"""Sketch-RNN (Ha & Eck 2017): a sequence VAE over stroke-5 sketches, from Python::

    from jaxseq import sketch_rnn
    sheep = sketch_rnn.load("sheep")                        # the shipped checkpoint, or a path
    drawings = sheep.sample(16, temperature=0.4, seed=0)    # stroke-3 arrays in data units
    recon = sheep.reconstruct(drawings[:4])
    mid = sheep.interpolate(drawings[0], drawings[1], steps=8)
    sheep.save(drawings, "sheep.svg")                       # .svg, or a .png grid

The defaults (``TEMPERATURE``, ``N_SAMPLES``, ``SEED``) are the command line's. Modules: ``model``
(init, encoder/decoder, losses), ``sample`` (sampling, reconstruction, interpolation), ``training``
(the paper's settings around ``fit``), ``api`` (this facade).
"""
from jaxseq.models.sketch_rnn.api import DEFAULT_CHECKPOINT, SketchRNN, load, resolve_checkpoint, shipped
from jaxseq.models.sketch_rnn.model import SketchConfig
from jaxseq.models.sketch_rnn.sample import N_SAMPLES, SEED, TEMPERATURE
from jaxseq.models.sketch_rnn.training import TrainSettings, train

__all__ = ["DEFAULT_CHECKPOINT", "N_SAMPLES", "SEED", "SketchConfig", "SketchRNN", "TEMPERATURE",
           "TrainSettings", "load", "resolve_checkpoint", "shipped", "train"]
