"""Translation with a trained :mod:`jaxseq.models.nmt.model`: batched greedy and beam search (through
:mod:`jaxseq.search` over the model's ``decoder_start``/``decoder_step``), teacher-forced attention
matrices for heatmaps, and :class:`Translator`, the user-facing object that ``jaxseq.nmt.load`` returns.

:func:`greedy` / :func:`beam_search` are jitted with the config, lengths and beam size static; outputs are
token ids ``[B, max_len]`` with <eos> then <pad> after the end.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq import search
from jaxseq.data.subword import Subword
from jaxseq.data.vocab import EOS_ID, PAD_ID, SOS_ID, Vocab, tokenize
from jaxseq.models.nmt import model as nmt
from jaxseq.paths import as_path

BEAM = 5        # the default beam size of translation and test BLEU (the CLI's --beam default too)
ALPHA = 1.0     # length normalisation: score / length ** ALPHA
BOUNDS = (8, 12, 16, 24, 32, 48, 64, 96, 128)   # source length buckets: few compiled shapes
MAX_WORDS = BOUNDS[-1] - 1   # longest source sentence translate() accepts, in tokens (+ <eos>)
log = logging.getLogger(__name__)
SHIPPED = Path(__file__).resolve().parents[3] / "ckpt" / "nmt_luong"   # ckpt/nmt_luong/<lang>


def _start(params, cfg, src, src_mask):
    params = nmt.cast_params(params, cfg)                    # once, not per decoder step
    return params, nmt.decoder_start(params, cfg, src, src_mask), partial(nmt.decoder_step, params, cfg)


@partial(jax.jit, static_argnames=("cfg", "max_len"))
def greedy(params, cfg, src, src_mask, max_len=20):
    """-> (tokens [B, max_len] int32, log-prob of the output [B])."""
    _, state, step = _start(params, cfg, src, src_mask)
    return search.greedy(step, state, src.shape[0], max_len, SOS_ID, EOS_ID, PAD_ID)


@partial(jax.jit, static_argnames=("cfg", "max_len", "beam", "n_best"))
def beam_search(params, cfg, src, src_mask, max_len=20, beam=BEAM, alpha=ALPHA, n_best=False):
    """Length-normalised beam search (:func:`jaxseq.search.beam_search`); ``beam=1``, ``alpha=0`` is
    greedy. -> (tokens [B, max_len], normalised score [B]); with ``n_best`` every final hypothesis, best
    first: (tokens [B, beam, max_len], scores [B, beam])."""
    _, state, step = _start(params, cfg, src, src_mask)
    return search.beam_search(step, state, src.shape[0], max_len, beam, alpha, SOS_ID, EOS_ID, PAD_ID,
                              n_best=n_best)


def attention_for(params, cfg, src, src_mask, tokens):
    """Attention weights [B, T, S] of the model reading ``tokens`` [B, T] (e.g. a beam output) as the
    target: teacher-forced, so every decoding method gets a heatmap (for a greedy output these are
    exactly the weights seen while decoding)."""
    tgt_in = jnp.concatenate([jnp.full((tokens.shape[0], 1), SOS_ID, tokens.dtype), tokens[:, :-1]], 1)
    return _forced(params, cfg, {"src": src, "src_mask": src_mask, "tgt_in": tgt_in})[1]


@partial(jax.jit, static_argnames=("cfg",))
def _forced(params, cfg, batch):
    return nmt.forward(params, cfg, batch, None, return_attn=True)


def _bucket(n, bounds=BOUNDS):
    for b in bounds:
        if n <= b:
            return b
    return n


def translate_ids(params, cfg, sources, *, beam=BEAM, alpha=ALPHA, max_len=None, batch_size=64,
                  bounds=BOUNDS, n_best=0, progress=None):
    """Decode a list of source id lists (each ending with <eos>); ``beam=1`` is greedy. Sources are
    sorted by length and grouped into length ``bounds`` (few compiled shapes); ``max_len`` (default
    about twice the source bucket) caps the output. Returns a list of output id lists (without
    <eos>/<pad>); with ``n_best`` (<= ``beam``) a list of ``n_best`` ``(ids, normalised score)`` per
    source, best first. ``progress(n)`` is called after each batch with the sentences it held."""
    if n_best > max(beam, 1):
        raise ValueError(f"n_best {n_best} is larger than the beam ({beam}): at most {beam} hypotheses")
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out = [None] * len(sources)
    for j in range(0, len(order), batch_size):
        chunk = order[j:j + batch_size]
        S = _bucket(max(len(sources[i]) for i in chunk), bounds)
        rows = len(chunk) if len(order) <= batch_size else batch_size   # one short batch: no filler
        src = np.zeros((rows, S), np.int32)
        for r, i in enumerate(chunk):
            src[r, :len(sources[i])] = sources[i]
        src[len(chunk):] = src[0]                                       # filler rows, discarded
        mask = (src != PAD_ID).astype(np.float32)
        T = max_len or _bucket(2 * S + 4)
        if n_best:
            toks, scores = map(np.asarray, beam_search(params, cfg, src, mask, max_len=T, beam=beam,
                                                       alpha=alpha, n_best=True))
            for r, i in enumerate(chunk):
                out[i] = [(search.strip(toks[r, k], EOS_ID, PAD_ID), float(scores[r, k]))
                          for k in range(n_best)]
        else:
            if beam == 1:
                toks = greedy(params, cfg, src, mask, max_len=T)[0]
            else:
                toks = beam_search(params, cfg, src, mask, max_len=T, beam=beam, alpha=alpha)[0]
            toks = np.asarray(toks)
            for r, i in enumerate(chunk):
                out[i] = search.strip(toks[r], EOS_ID, PAD_ID)
        if progress is not None:
            progress(len(chunk))
    return out


def to_text(vocab, ids):
    """Output ids -> text: detokenised for a subword model, words joined by spaces for a word vocab."""
    if isinstance(vocab, Subword):
        return vocab.detokenize(ids)
    return " ".join(vocab.decode(ids))


# -------------------------------------------------------------------------------------- the facade
@dataclasses.dataclass
class Translation:
    """One translated sentence: ``text`` (the output), the source and output tokens, and ``attention``
    [len(target) + 1, len(source) + 1] (rows: output tokens then <eos>; columns: source tokens then
    <eos>)."""
    text: str
    source_tokens: list
    target_tokens: list
    attention: np.ndarray


@dataclasses.dataclass
class Translator:
    """A trained model with its vocabularies. ``translate(texts)`` -> list of strings.

    A true-case model (``truecase``: its meta holds a joint subword model) reads raw text ("I'm cold.")
    and writes detokenised text ("J'ai froid."); a tutorial model reads text normalised as in the
    PyTorch tutorial and writes lower-case words separated by spaces."""
    params: dict
    cfg: nmt.NMTConfig
    meta: dict

    def __post_init__(self):
        self.truecase = bool(self.meta.get("subword"))
        if self.truecase:
            self.src_vocab = self.tgt_vocab = Subword.from_json(self.meta["subword"])
        else:
            self.src_vocab = Vocab.from_json(self.meta["src_vocab"])
            self.tgt_vocab = Vocab.from_json(self.meta["tgt_vocab"])
        self.lang = self.meta.get("lang")

    def _encode(self, toks):
        """:meth:`check` 's tokens (subword ids of a true-case model, words otherwise) -> ids + <eos>."""
        if self.truecase:
            return [list(t) + [EOS_ID] for t in toks]
        return [self.src_vocab.encode(t) for t in toks]

    def translate(self, texts, beam=BEAM, alpha=ALPHA, max_len=None, return_attention=False,
                  batch_size=64, progress=None):
        """Translate raw strings. ``beam=1`` is greedy. Returns the output strings, or with
        ``return_attention`` a list of :class:`Translation`. Sentences are decoded ``batch_size`` at
        a time (sorted by length); ``progress(n)`` is called after each batch."""
        toks = self.check(texts, beam, alpha, max_len)
        ids = self._encode(toks)
        out = translate_ids(self.params, self.cfg, ids, beam=beam, alpha=alpha, max_len=max_len,
                            batch_size=max(1, min(len(ids), batch_size)), progress=progress)
        strings = [to_text(self.tgt_vocab, o) for o in out]
        if not return_attention:
            return strings
        return [Translation(s, self._pieces(k), self.tgt_vocab.decode(o), self.attention(i, o))
                for s, k, i, o in zip(strings, toks, ids, out)]

    def translate_n_best(self, texts, n_best, beam=BEAM, alpha=ALPHA, max_len=None, batch_size=64,
                         progress=None):
        """The ``n_best`` (<= ``beam``) final beam hypotheses of each sentence, best first: a list of
        ``[(text, normalised log-probability), ...]`` per sentence."""
        if isinstance(n_best, bool) or not isinstance(n_best, (int, np.integer)) or n_best < 1:
            raise ValueError(f"n_best {n_best!r}: give an integer of at least 1")
        if n_best > beam:
            raise ValueError(f"n_best {n_best} is larger than the beam size {beam}; raise the beam")
        ids = self._encode(self.check(texts, beam, alpha, max_len))
        out = translate_ids(self.params, self.cfg, ids, beam=beam, alpha=alpha, max_len=max_len,
                            batch_size=max(1, min(len(ids), batch_size)), n_best=n_best, progress=progress)
        return [[(to_text(self.tgt_vocab, o), s) for o, s in hyps] for hyps in out]

    def _pieces(self, toks):
        return [self.src_vocab.sp.id_to_piece(i) for i in toks] if self.truecase else toks

    def check(self, texts, beam=BEAM, alpha=ALPHA, max_len=None):
        """Validate :meth:`translate`'s arguments; returns the source tokens of ``texts``. Refused (a
        ``ValueError`` naming the value): a beam or max_len below 1, a negative or non-finite alpha, an
        empty sentence, one with no known word (its output would be invented, the same for any such
        input), one over :data:`MAX_WORDS` tokens. Unknown words among known ones are translated as
        <unk> with a warning naming them."""
        if isinstance(texts, str):
            raise TypeError("translate takes a list of strings; wrap one sentence as [text]")
        if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or beam < 1:
            raise ValueError(f"beam size {beam!r}: give an integer of at least 1 (1: greedy)")
        if max_len is not None and (not isinstance(max_len, (int, np.integer)) or max_len < 1):
            raise ValueError(f"max_len {max_len!r}: give an integer of at least 1 (or None: automatic)")
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha {alpha!r}: give a finite length-normalisation exponent >= 0")
        texts = list(texts)
        if not texts:
            raise ValueError("no sentences to translate")
        out = []
        for t in texts:
            if not isinstance(t, str) or not t.strip():
                raise ValueError(f"empty sentence {t!r}: give the text to translate")
            if self.truecase:   # raw text; subwords (with byte fallback) encode anything
                k = self.src_vocab.encode(t.strip(), eos=False)
                if len(k) > MAX_WORDS:
                    raise ValueError(f"sentence of {len(k)} subword tokens ({t[:40]!r}...) is over the "
                                     f"limit of {MAX_WORDS}; split it into sentences")
                out.append(k)
                continue
            k = tokenize(t)
            if not k:
                raise ValueError(f"nothing to translate in {t!r}: no letters or .!? left after "
                                 f"normalisation")
            if len(k) > MAX_WORDS:
                raise ValueError(f"sentence of {len(k)} tokens ({t[:40]!r}...) is over the limit of "
                                 f"{MAX_WORDS} tokens; split it into sentences")
            words = [w for w in k if w not in ".!?"]
            unknown = [w for w in words if w not in self.src_vocab.stoi]
            if not words or len(unknown) == len(words):
                raise ValueError(f"nothing to translate in {t!r}: " + (
                    f"no word known to the model (unknown: {', '.join(dict.fromkeys(unknown))})" if words
                    else "no words, only punctuation"))
            if unknown:
                log.warning(f"unknown words in {t!r}, translated as <unk>: "
                            f"{', '.join(dict.fromkeys(unknown))}")
            out.append(k)
        return out

    def attention(self, src_ids, out_ids):
        """Attention [len(out_ids) + 1, len(src_ids)] of the model reading ``out_ids`` + <eos> as the
        target for the source ``src_ids`` (ending with <eos>)."""
        # padded to the length buckets (masked source, causal target), so that another sentence of a
        # similar length reuses the compiled program, in this process and through the persistent cache
        S, T = len(src_ids), len(out_ids) + 1
        src = np.full((1, _bucket(S)), PAD_ID, np.int32)
        src[0, :S] = src_ids
        tgt = np.full((1, _bucket(T)), PAD_ID, np.int32)
        tgt[0, :T] = list(out_ids) + [EOS_ID]
        att = attention_for(self.params, self.cfg, src, (src != PAD_ID).astype(np.float32), tgt)
        return np.asarray(att)[0, :T, :S]


def resolve(name_or_path="eng-fra") -> Path:
    """A shipped model name (``eng-fra``: ``ckpt/nmt_luong/eng-fra`` of this repository, from any
    working directory) or a checkpoint directory."""
    p = as_path(name_or_path)   # a gs:// URI stays one
    if p.is_dir():
        return p
    shipped = SHIPPED / str(name_or_path)
    if shipped.is_dir():
        return shipped
    have = sorted(d.name for d in SHIPPED.iterdir()) if SHIPPED.is_dir() else []
    raise FileNotFoundError(f"no NMT checkpoint {name_or_path!r}: not a directory, and not a shipped "
                            f"model (shipped: {', '.join(have) or 'none'})")


def load(name_or_path="eng-fra", step=None) -> Translator:
    """A :class:`Translator` from a shipped model name or a checkpoint directory (a training run: its
    best step by validation BLEU, else the latest; or an export)."""
    params, cfg, meta = nmt.restore(resolve(name_or_path), step=step)
    return Translator(params, cfg, meta)
