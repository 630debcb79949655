"""A local web demo of the shipped checkpoints: ``python -m jaxseq.demo`` then open http://127.0.0.1:8000.

Tabs: Handwriting (type text, pick bias/style/seed, download SVG/PNG; write a line on the pad with its
transcript and the network writes anything in your hand), Sketch-RNN (sheep or kanji from the prior,
completions of a sketch you start, interpolation between two samples) and Translate (English to French
with the attention heatmap). Needs no data set and nothing beyond the core install; see docs/demo.md.
"""
from jaxseq.demo.server import HOST, make_server

__all__ = ["HOST", "make_server"]
