"""Surnames and their languages (the PyTorch tutorials' character RNNs, batched and masked)::

    from jaxseq import names
    clf = names.load()                                   # the shipped classifier (or a path)
    clf.predict(["Schmidhuber"])                         # -> [[("German", -0.1), ("Czech", ...), ...]]
    gen = names.load("generator")                        # the shipped language-conditional generator
    gen.generate("Russian", start="RUS", temperature=0.5)   # -> one name per start letter

Modules: ``model`` (cells, classifier, generator, jitted sampling), ``training`` (config, ``train``,
held-out metrics), ``api`` (this facade). Data: :mod:`jaxseq.data.names`.
"""
from jaxseq.models.names.api import (MAX_LETTERS, SEED, TEMPERATURE, TOP, NameClassifier, NameGenerator, load,
                                     load_classifier, load_generator, resolve_checkpoint, shipped)
from jaxseq.models.names.model import ClassifierConfig, GeneratorConfig
from jaxseq.models.names.training import NamesConfig, classifier_metrics, generator_metrics, train

__all__ = ["MAX_LETTERS", "SEED", "TEMPERATURE", "TOP", "NameClassifier", "NameGenerator", "load",
           "load_classifier", "load_generator", "resolve_checkpoint", "shipped", "ClassifierConfig",
           "GeneratorConfig", "NamesConfig", "classifier_metrics", "generator_metrics", "train"]
