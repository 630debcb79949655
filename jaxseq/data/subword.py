"""Subword units for true-case NMT: a SentencePiece unigram model (Kudo 2018) over raw text.

Why SentencePiece: it trains on raw sentences (no pre-tokeniser), treats the space as a symbol
(``▁``), so decoding is exact detokenisation with no Moses-style rules; its ``nmt_nfkc`` normaliser
folds the narrow no-break spaces of French typography ("Cours\\u202f!") into plain spaces; byte
fallback makes any character encodable, so no input ever becomes ``<unk>``; and the whole model is
one small protobuf that travels inside a checkpoint's meta (base64). HF ``tokenizers`` would do too;
SentencePiece is the tokenizer the NMT toolkits (Marian, OpenNMT, fairseq) ship with.

Ids 0-3 are ``<pad>``, ``<sos>``, ``<eos>``, ``<unk>`` as in :mod:`jaxseq.data.vocab`, so the search
and the batches of the word-level models work unchanged.
"""
from __future__ import annotations

import base64
import io
import os

from jaxseq.data.vocab import EOS_ID, PAD_ID, SOS_ID, UNK_ID

VOCAB_SIZE = 8000


def _spm():
    try:
        import sentencepiece
    except ImportError as e:   # a declared dependency; say how to get it
        raise ImportError("true-case NMT needs sentencepiece: pip install sentencepiece") from e
    return sentencepiece


def train(sentences, vocab_size=VOCAB_SIZE, threads=None) -> bytes:
    """A unigram model over raw ``sentences`` (an iterable of strings); returns the model protobuf.
    Character coverage is complete, unseen characters fall back to UTF-8 bytes."""
    model = io.BytesIO()
    _spm().SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", character_coverage=1.0, byte_fallback=True,
        normalization_rule_name="nmt_nfkc", pad_id=PAD_ID, bos_id=SOS_ID, eos_id=EOS_ID, unk_id=UNK_ID,
        pad_piece="<pad>", bos_piece="<sos>", eos_piece="<eos>", unk_piece="<unk>",
        input_sentence_size=0, shuffle_input_sentence=False, max_sentence_length=4096,
        num_threads=threads or min(8, os.cpu_count() or 1), minloglevel=2)
    return model.getvalue()


class Subword:
    """A trained SentencePiece model with the interface of :class:`jaxseq.data.vocab.Vocab`:
    ``encode(text)`` -> ids + <eos>, ``decode(ids)`` -> pieces, plus ``detokenize(ids)`` -> text."""

    def __init__(self, proto: bytes):
        self.proto = bytes(proto)
        self.sp = _spm().SentencePieceProcessor(model_proto=self.proto)
        if self.sp.pad_id() != PAD_ID or self.sp.bos_id() != SOS_ID or self.sp.eos_id() != EOS_ID:
            raise ValueError("a subword model must have ids <pad>=0, <sos>=1, <eos>=2, <unk>=3; train it "
                             "with jaxseq.data.subword.train")

    def __len__(self):
        return self.sp.get_piece_size()

    def encode(self, text: str, eos: bool = True) -> list[int]:
        ids = self.sp.encode(text)
        return ids + [EOS_ID] if eos else ids

    def encode_batch(self, texts, eos: bool = True) -> list[list[int]]:
        out = self.sp.encode(list(texts))
        return [ids + [EOS_ID] for ids in out] if eos else out

    def _until_eos(self, ids):
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i not in (PAD_ID, SOS_ID):
                out.append(i)
        return out

    def decode(self, ids) -> list[str]:
        """Pieces up to the first <eos> (labels of an attention plot)."""
        return [self.sp.id_to_piece(i) for i in self._until_eos(ids)]

    def detokenize(self, ids) -> str:
        """The text of ``ids`` up to the first <eos>: pieces joined, ``▁`` as spaces, bytes as UTF-8."""
        return self.sp.decode(self._until_eos(ids))

    def to_json(self) -> str:
        return base64.b64encode(self.proto).decode("ascii")

    @classmethod
    def from_json(cls, s: str) -> "Subword":
        return cls(base64.b64decode(s))

    @classmethod
    def from_file(cls, path) -> "Subword":
        from pathlib import Path
        return cls(Path(path).read_bytes())
