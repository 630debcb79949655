"""Surnames by language from the PyTorch tutorial ``data.zip`` (``data/names/<Language>.txt``, 18 files,
one name a line): the tutorial's ASCII folding, a seeded stratified split, and padded id batches.

Folding is the tutorial's ``unicodeToAscii``: NFD, drop combining marks, keep only :data:`ALPHABET`
(``ascii_letters + " .,;'"``, 57 characters), so ``"Ślusarski" -> "Slusarski"``. The files repeat some
names within a language (2,080 exact repeats, mostly in Arabic); they are kept once so no test name is
also a training name. 476 names are listed under several languages; those are kept (the task is ambiguous
for them, and a classifier cannot be right on all of their labels).

Ids: a name's letters are ``ALPHABET.index(c) + 1``; 0 is padding.
"""
from __future__ import annotations

import dataclasses
import string
import unicodedata
import zipfile
import zlib
from pathlib import Path

import numpy as np

from jaxseq.data.eng_fra import find_data
from jaxseq.errors import DataError

ALPHABET = string.ascii_letters + " .,;'"
PREFIX = "data/names/"
N_LANGUAGES = 18
_INDEX = {c: i + 1 for i, c in enumerate(ALPHABET)}


def fold(s: str) -> str:
    """NFD, then drop combining marks (category Mn): ``"Müller" -> "Muller"`` (the tutorial's folding,
    before its filter to the alphabet)."""
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def to_ascii(s: str) -> str:
    """The tutorial's ``unicodeToAscii``: :func:`fold`, then drop every character outside ALPHABET."""
    return "".join(c for c in fold(s) if c in _INDEX)


def check_name(name, what="name") -> str:
    """A user's name folded to ASCII; ``ValueError`` naming the value (as ``what``) for an empty name or
    characters that stay outside the alphabet after folding (``"Straße"``: 'ß'; ``"Smith3"``: '3')."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} {name!r} is empty; give a surname such as 'Schmidhuber'")
    folded = fold(name.strip())
    bad = sorted({c for c in folded if c not in _INDEX})
    if bad:
        raise ValueError(f"{what} {name!r} has characters outside the alphabet: {''.join(bad)!r} "
                         f"(allowed: ASCII letters and {ALPHABET[52:]!r}; accents are folded)")
    return folded


def encode(name: str) -> np.ndarray:
    """Letter ids ``[len(name)]`` int32 (1..57) of an already folded name."""
    return np.array([_INDEX[c] for c in name], np.int32)


def decode(ids) -> str:
    return "".join(ALPHABET[int(i) - 1] for i in ids if 1 <= int(i) <= len(ALPHABET))


def pad_ids(names, max_len=None):
    """``(ids [B, T] int32, lengths [B] int32)``; padding id 0. ``max_len`` fixes T (longer is an error)."""
    lengths = np.array([len(n) for n in names], np.int32)
    T = int(max_len if max_len is not None else max(1, lengths.max(initial=1)))
    if len(names) and lengths.max() > T:
        raise ValueError(f"name {names[int(lengths.argmax())]!r} has {lengths.max()} letters; the model "
                         f"reads at most {T}")
    ids = np.zeros((len(names), T), np.int32)
    for i, n in enumerate(names):
        ids[i, :len(n)] = encode(n)
    return ids, lengths


@dataclasses.dataclass
class Names:
    """``names[i]`` (folded) belongs to ``languages[labels[i]]``; ``languages`` sorted by file name."""
    names: list
    labels: np.ndarray
    languages: list

    def __len__(self):
        return len(self.names)

    def subset(self, idx) -> "Names":
        idx = np.asarray(idx, np.int64)
        return Names([self.names[i] for i in idx], self.labels[idx], self.languages)

    def counts(self) -> dict:
        return {lang: int((self.labels == k).sum()) for k, lang in enumerate(self.languages)}


def read_zip(path) -> dict:
    """``{language: [raw lines]}`` from the tutorial zip at ``path``; DataError naming the file."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            members = sorted(m for m in z.namelist() if m.startswith(PREFIX) and m.endswith(".txt"))
            if not members:
                raise DataError(f"{path} has no {PREFIX}*.txt members; is it the PyTorch tutorial "
                                f"data.zip (download.pytorch.org/tutorial/data.zip)?")
            out = {}
            for m in members:
                raw = z.read(m)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    line = raw[:e.start].count(b"\n") + 1
                    raise DataError(f"{path}: {m} is not UTF-8 (line {line})") from None
                out[m[len(PREFIX):-4]] = text.split("\n")
            return out
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise DataError(f"{path}: cannot read it ({type(e).__name__}: {e}); the file is damaged or "
                        f"truncated; download it again") from e


def load(data_dir=None, path=None) -> Names:
    """All names, folded and de-duplicated within each language, from ``path`` (the zip) or
    ``<data dir>/pytorch-tutorial/data.zip`` (found as :func:`jaxseq.data.files.find_file` does)."""
    zpath = find_data(data_dir, path)
    files = read_zip(zpath)
    names, labels = [], []
    for k, lang in enumerate(sorted(files)):
        seen = set()
        for line in files[lang]:
            n = to_ascii(line.strip())
            if n and n not in seen:
                seen.add(n)
                names.append(n)
                labels.append(k)
        if not seen:
            raise DataError(f"{zpath}: {PREFIX}{lang}.txt holds no names")
    return Names(names, np.array(labels, np.int32), sorted(files))


def stratified_split(labels, fractions=(0.8, 0.1, 0.1), seed=0):
    """Index arrays, one per fraction: each class is permuted with ``seed`` and cut by ``fractions`` (at
    least one example of a class in every part when it has enough), so every part has each language in
    the proportions of the whole."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        cuts = [int(c) for c in np.round(np.cumsum(fractions)[:-1] * len(idx))]
        if len(idx) >= len(fractions):   # no empty part: each cut at least one past the previous one
            for i in reversed(range(len(cuts))):
                cuts[i] = min(cuts[i], (cuts[i + 1] if i + 1 < len(cuts) else len(idx)) - 1)
            for i in range(len(cuts)):
                cuts[i] = max(cuts[i], (cuts[i - 1] if i else 0) + 1)
        for p, chunk in zip(parts, np.split(idx, cuts)):
            p.append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


def split(data: Names, seed=0, fractions=(0.8, 0.1, 0.1)):
    """``(train, val, test)`` :class:`Names`, stratified by language (:func:`stratified_split`)."""
    return tuple(data.subset(i) for i in stratified_split(data.labels, fractions, seed))
