"""Word corpora for the embedding models: the words of tiny Shakespeare (one sentence per non-empty line)
or of the English side of eng-fra (each distinct English sentence once), or any UTF-8 text file with one
sentence a line. Words are the tutorial's normalised tokens (:func:`jaxseq.data.vocab.tokenize`: lower
case, ASCII, letters only) without the ``. ! ?`` tokens.

From the sentences: a frequency-ordered :class:`jaxseq.data.vocab.Vocab` (words seen fewer than
``min_count`` times become <unk>), a seeded sentence-level train/held-out split, and the training
examples of each model (``x [N, C]``, ``y [N]``): windows never cross a sentence edge, and no example
predicts <unk>.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from jaxseq.data import eng_fra, shakespeare
from jaxseq.data.batching import split_indices
from jaxseq.data.vocab import PAD_ID, SOS_ID, UNK_ID, Vocab, tokenize
from jaxseq.errors import DataError

CORPORA = ("shakespeare", "eng-fra")
_PUNCT = {".", "!", "?"}


def words(line: str) -> list[str]:
    return [t for t in tokenize(line) if t not in _PUNCT]


def read_sentences(corpus="shakespeare", data_dir=None, path=None, cache=None):
    """``(sentences as word lists, source name)``. ``path``: a text file, one sentence a line (for
    ``corpus`` 'text'); ``cache``: tiny Shakespeare's compact .npz."""
    if corpus == "text":
        if path is None:
            raise ValueError("corpus 'text' needs a file: give --text FILE")
        p = Path(path).expanduser()
        if not p.is_file():
            raise DataError(f"text file {p} " + ("is a folder" if p.exists() else "does not exist"))
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as e:
            raise DataError(f"{p}: not UTF-8 text (byte {e.start}); save it as UTF-8") from e
        source = str(p)
    elif corpus == "shakespeare":
        ids, charset = shakespeare.load(data_dir, cache=cache)
        lines = charset.decode(ids).splitlines()
        source = str(cache or shakespeare.text_path(data_dir))
    elif corpus == "eng-fra":
        pairs, _ = eng_fra.load_pairs(data_dir, path, kind="none")
        lines = list(dict.fromkeys(e for e, _ in pairs))          # distinct English sentences, in order
        source = str(eng_fra.find_data(data_dir, path))
    else:
        raise ValueError(f"unknown corpus {corpus!r}; choose one of {CORPORA + ('text',)}")
    sents = [w for w in map(words, lines) if w]
    if not sents:
        raise DataError(f"{source}: no words (an empty corpus); give a text with at least one word")
    return sents, source


@dataclasses.dataclass
class WordCorpus:
    vocab: Vocab
    counts: np.ndarray            # [V] training-part count of each word id (0 for the specials and <unk>)
    train: list                   # encoded sentences (int32 arrays)
    valid: list
    source: str = ""

    @property
    def n_train_words(self) -> int:
        return int(sum(len(s) for s in self.train))


def split(n, valid_fraction=0.05, seed=0):
    """Seeded ``(training, held-out)`` sentence indices."""
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction = {valid_fraction}: must lie in [0, 1)")
    return split_indices(n, [1.0 - valid_fraction, valid_fraction], seed=seed)


def heldout(sentences, vocab: Vocab, valid_fraction=0.05, seed=0):
    """The held-out sentences of :func:`build`'s split, encoded with ``vocab`` (a trained model's)."""
    _, va = split(len(sentences), valid_fraction, seed)
    return [np.asarray(vocab.encode(sentences[i], eos=False), np.int32) for i in va]


def build(sentences, min_count=1, valid_fraction=0.05, seed=0, source="") -> WordCorpus:
    """Split sentences (seeded) into training and held-out parts, and build the vocabulary from the
    training part only."""
    if not sentences:
        raise DataError(f"{source or 'corpus'}: no sentences (an empty corpus)")
    tr, va = split(len(sentences), valid_fraction, seed)
    if len(tr) == 0:
        raise DataError(f"{source}: {len(sentences)} sentences leave none for training")
    vocab = Vocab.build((sentences[i] for i in tr), min_count=min_count)
    if len(vocab) == 4:
        raise DataError(f"{source}: no word occurs {min_count} times; lower min_count")
    train = [np.asarray(vocab.encode(sentences[i], eos=False), np.int32) for i in tr]
    valid = [np.asarray(vocab.encode(sentences[i], eos=False), np.int32) for i in va]
    counts = np.bincount(np.concatenate(train), minlength=len(vocab)).astype(np.int64)
    counts[UNK_ID] = 0            # <unk> is never predicted, so never noise either
    return WordCorpus(vocab, counts, train, valid, source)


def _flat(sents):
    """``(tokens, sentence id, position in sentence)`` of all sentences laid end to end."""
    lens = np.array([len(s) for s in sents], np.int64)
    if lens.sum() == 0:
        z = np.zeros(0, np.int64)
        return z.astype(np.int32), z, z
    tok = np.concatenate(sents).astype(np.int32)
    sid = np.repeat(np.arange(len(sents)), lens)
    pos = np.arange(len(tok)) - np.repeat(np.cumsum(lens) - lens, lens)
    return tok, sid, pos


def _shift(tok, sid, d, fill):
    """``tok`` moved by ``d`` places (the word ``d`` after, or before for d < 0), ``fill`` where that
    leaves the sentence."""
    out = np.full_like(tok, fill)
    n = len(tok)
    if d > 0 and d < n:
        same = sid[d:] == sid[:-d]
        out[:-d] = np.where(same, tok[d:], fill)
    elif d < 0 and -d < n:
        same = sid[:d] == sid[-d:]
        out[-d:] = np.where(same, tok[:d], fill)
    return out


def examples(model, sents, window):
    """Training examples ``(x [N, C] int32, y [N] int32)`` of ``model`` from encoded sentences.

    ngram: the ``window`` previous words (oldest first; <sos> before a sentence's start);
    cbow: the ``window`` words either side (<pad> past an edge, masked by the model);
    skipgram: one ``(word, neighbour)`` pair for each neighbour within ``window``, neither <unk>."""
    tok, sid, _ = _flat(sents)
    if model == "ngram":
        x = np.stack([_shift(tok, sid, -d, SOS_ID) for d in range(window, 0, -1)], 1)
        y = tok
    elif model == "cbow":
        offs = [d for d in range(-window, window + 1) if d != 0]
        x = np.stack([_shift(tok, sid, d, PAD_ID) for d in offs], 1)
        y = tok
    elif model == "skipgram":
        xs, ys = [], []
        for d in list(range(-window, 0)) + list(range(1, window + 1)):
            ctx = _shift(tok, sid, d, PAD_ID)
            ok = (ctx != PAD_ID) & (tok != UNK_ID)
            xs.append(tok[ok])
            ys.append(ctx[ok])
        x, y = np.concatenate(xs)[:, None], np.concatenate(ys)
    else:
        raise ValueError(f"unknown model {model!r}")
    keep = y != UNK_ID
    return np.ascontiguousarray(x[keep]).astype(np.int32), y[keep].astype(np.int32)
