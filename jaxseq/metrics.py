"""Evaluation metrics: corpus BLEU and chrF (sacreBLEU, as the NMT literature reports them), the character
error rate and bits per character. Host-side functions over plain Python strings and numbers; nothing here
prints."""
from __future__ import annotations

import math
from typing import Sequence


def _sacrebleu():
    try:
        import sacrebleu
    except ImportError as e:  # a declared dependency; say how to get it rather than fail obscurely
        raise ImportError("BLEU and chrF need sacrebleu: pip install sacrebleu") from e
    return sacrebleu


def _check(hyps, refs):
    hyps, refs = list(hyps), list(refs)
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references; give one reference each")
    return hyps, refs


def bleu(hyps: Sequence[str], refs: Sequence[str], tokenize: str = "13a") -> float:
    """Corpus BLEU (0-100) of hypothesis strings against one reference string each: sacreBLEU's
    ``corpus_bleu`` with its default 13a tokenisation. ``force=True`` because our NMT text is already
    normalised and tokenised (punctuation split off), as in the PyTorch tutorial data."""
    hyps, refs = _check(hyps, refs)
    return float(_sacrebleu().corpus_bleu(hyps, [refs], tokenize=tokenize, force=True).score)


def chrf(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus chrF (0-100; sacreBLEU's default character 6-grams, beta 2) against one reference each."""
    hyps, refs = _check(hyps, refs)
    return float(_sacrebleu().corpus_chrf(hyps, [refs]).score)


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two sequences."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def char_error_rate(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus character error rate: total edit distance over total reference characters (0 is perfect;
    above 1 when the outputs are much longer than the references)."""
    hyps, refs = _check(hyps, refs)
    return sum(edit_distance(h, r) for h, r in zip(hyps, refs)) / max(1, sum(len(r) for r in refs))


def bits_per_char(nll_nats: float) -> float:
    """A mean negative log-likelihood per character in nats -> bits per character."""
    return nll_nats / math.log(2.0)
