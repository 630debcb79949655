"""Decoding for every seq2seq model: :mod:`jaxseq.search` (the one greedy/beam search) over the model's
``decoder_start`` / ``decoder_step``, jitted with the model config static; batched translation of id
lists in length buckets (:func:`jaxseq.data.eng_fra.eval_batches`, a few compiled shapes); teacher-forced
attention for plots."""
from __future__ import annotations

from functools import partial

import jax
import numpy as np

from jaxseq import search
from jaxseq.data import eng_fra
from jaxseq.data.vocab import EOS_ID, PAD_ID, SOS_ID
from jaxseq.models.seq2seq.common import module_of


@partial(jax.jit, static_argnames=("cfg", "max_len", "beam"))
def search_ids(params, cfg, src, src_mask, max_len, beam=1, alpha=1.0):
    """Greedy (``beam=1``) or length-normalised beam search. src [B, S], src_mask [B, S] ->
    (tokens [B, max_len] with <eos> then <pad> after the end, score [B])."""
    mod = module_of(cfg)
    state = mod.decoder_start(params, cfg, src, src_mask, max_len)
    step = partial(mod.decoder_step, params, cfg)
    if beam == 1:
        return search.greedy(step, state, src.shape[0], max_len, SOS_ID, EOS_ID, PAD_ID)
    return search.beam_search(step, state, src.shape[0], max_len, beam, alpha, SOS_ID, EOS_ID, PAD_ID)


def output_length(src_len):
    """The output cap for a source bucket of ``src_len`` tokens: about twice the source."""
    return 2 * src_len + 4


def translate_ids(params, cfg, sources, *, beam=1, alpha=1.0, batch_size=128, bounds=None, max_len=None,
                  progress=None):
    """Decode source id lists (each ending with <eos>) in length buckets ``bounds`` (default
    :func:`jaxseq.data.eng_fra.bucket_bounds` of the longest), ``batch_size`` at a time;
    ``progress(n)`` is called after each batch. -> output id lists (no <eos>/<pad>)."""
    if not sources:
        return []
    bounds = bounds or eng_fra.bucket_bounds(max(len(s) for s in sources))
    out = [None] * len(sources)
    batch_size = min(batch_size, len(sources))
    for idx, b in eng_fra.eval_batches([(s, [EOS_ID]) for s in sources], batch_size, bounds):
        S = b["src"].shape[1]
        toks = np.asarray(search_ids(params, cfg, b["src"], b["src_mask"], max_len or output_length(S),
                                     beam, alpha)[0])
        for r, i in enumerate(idx):
            out[i] = search.strip(toks[r], EOS_ID, PAD_ID)
        if progress is not None:
            progress(len(idx))
    return out


@partial(jax.jit, static_argnames=("cfg",))
def _forced(params, cfg, batch):
    return module_of(cfg).forward(params, cfg, batch, None, return_attn=True)


def attention_for(params, cfg, src_ids, out_ids):
    """The attention the model pays reading ``out_ids`` + <eos> as the target of ``src_ids`` (ending
    with <eos>), teacher forced: [len(out_ids) + 1, positions] (positions: ``max_length`` for the
    tutorial decoder, the source length otherwise), or None for a model without attention."""
    tgt = list(out_ids) + [EOS_ID]
    batch = {"src": np.asarray([src_ids], np.int32), "src_mask": np.ones((1, len(src_ids)), np.float32),
             "tgt_in": np.asarray([[SOS_ID] + tgt[:-1]], np.int32)}
    _, w = _forced(params, cfg, batch)
    return None if w is None else np.asarray(w)[0]
