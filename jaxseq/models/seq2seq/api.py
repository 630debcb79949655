"""The seq2seq facade: ``load(checkpoint dir)`` -> :class:`Translator` with ``translate(texts, beam)``.

It is Luong NMT's :class:`jaxseq.models.nmt.translate.Translator` (same input checks and messages: an
empty sentence, one without a known word or one over ``MAX_WORDS`` tokens is refused with a
``ValueError``; unknown words among known ones become <unk> with a warning) decoding through this
family's models. The tutorial attention decoder cannot read past its ``max_length`` positions: a longer
sentence is truncated to fit, with a logged warning.
"""
from __future__ import annotations

import dataclasses
import logging

import jax
import jax.numpy as jnp

from jaxseq.data.files import require_kind
from jaxseq.models.nmt.translate import ALPHA, BEAM, Translation, to_text
from jaxseq.models.nmt.translate import Translator as _NMTTranslator
from jaxseq.models.seq2seq import common, decode, training
from jaxseq.paths import as_path
from jaxseq.training import checkpoint

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Translator(_NMTTranslator):
    """A trained seq2seq model with its vocabularies (``name``: simple, tutorial-attn, transformer)."""

    def __post_init__(self):
        super().__post_init__()
        self.name = self.cfg.name

    def check(self, texts, beam=BEAM, alpha=ALPHA, max_len=None):
        toks = super().check(texts, beam, alpha, max_len)
        room = getattr(self.cfg, "max_length", None)
        if room is None:
            return toks
        out = []
        for t in toks:
            if len(t) + 1 > room:   # + <eos>
                log.warning(f"{len(t)} tokens: the tutorial attention decoder reads at most {room} "
                            f"positions (max_length, with <eos>); translating only the first {room - 1}: "
                            f"{' '.join(t[:room - 1])!r}")
                t = t[:room - 1]
            out.append(t)
        return out

    def translate(self, texts, beam=BEAM, alpha=ALPHA, max_len=None, return_attention=False,
                  batch_size=64, progress=None):
        """Translate raw strings (normalised like the training data); ``beam=1`` is greedy. Returns the
        output strings, or with ``return_attention`` a list of :class:`Translation` (attention None for
        the simple model, which has none). ``batch_size`` sentences at a time; ``progress(n)`` after
        each batch."""
        toks = self.check(texts, beam, alpha, max_len)
        ids = self._encode(toks)
        out = decode.translate_ids(self.params, self.cfg, ids, beam=beam, alpha=alpha, max_len=max_len,
                                   batch_size=max(1, min(len(ids), batch_size)), progress=progress)
        strings = [to_text(self.tgt_vocab, o) for o in out]
        if not return_attention:
            return strings
        return [Translation(s, k, self.tgt_vocab.decode(o), self.attention(i, o))
                for s, k, i, o in zip(strings, toks, ids, out)]

    def translate_n_best(self, texts, n_best, **kw):
        raise ValueError("n-best lists are not offered for the seq2seq models; ask for the best (n_best 1)")

    def attention(self, src_ids, out_ids):
        """Teacher-forced attention [len(out_ids) + 1, positions] (None for the simple model)."""
        return decode.attention_for(self.params, self.cfg, src_ids, out_ids)


def restore(directory, step=None):
    """``(params float32, model config, meta)`` of a seq2seq training run or export (default: the best
    step by validation BLEU, else the latest)."""
    directory = as_path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no seq2seq checkpoint {directory}: not a directory (train one with "
                                f"python experiments/seq2seq.py train --model simple --out DIR)")
    params, meta = checkpoint.load_for_sampling(directory, step=step, dtype="float32")
    require_kind(directory, meta, "seq2seq")
    if meta.get("model_name") not in common.MODELS:
        raise ValueError(f"{directory}: a seq2seq checkpoint of model {meta.get('model_name')!r}, which "
                         f"this API does not translate with (it knows {', '.join(common.MODELS)})")
    cfg = training.config_from_json(meta["model_name"], meta["model"])
    return jax.tree_util.tree_map(jnp.asarray, params), cfg, meta


def load(path, step=None) -> Translator:
    """A :class:`Translator` from a checkpoint directory (a training run or an export)."""
    params, cfg, meta = restore(path, step)
    return Translator(params, cfg, meta)


__all__ = ["Translator", "Translation", "load", "restore"]
