"""The English-French pairs of the PyTorch seq2seq tutorial (Tatoeba): loading, filters, split, batches.

The archive ``pytorch-tutorial/data.zip`` holds ``data/eng-fra.txt``: one ``English<TAB>French`` pair a
line. We read the zip directly (or a plain/gzipped copy of the text file), normalise both sides
(:func:`jaxseq.data.vocab.normalise`), count bad lines instead of failing, filter, and split with a fixed seed.
Batches are bucketed by length so each bucket has one static shape under ``jit``.
"""
from __future__ import annotations

import dataclasses
import gzip
import io
import logging
import zipfile
import zlib
from pathlib import Path

import numpy as np

from jaxseq.data.batching import length_buckets, split_indices
from jaxseq.data.files import find_file, write_atomic
from jaxseq.errors import DataError
from jaxseq.data.vocab import EOS_ID, PAD_ID, SOS_ID, Vocab, normalise

RELPATH = "pytorch-tutorial/data.zip"
URL = "https://download.pytorch.org/tutorial/data.zip"
MD5 = "fbb3849632b35bc5ecf9e3b033074f6e"
MEMBER = "data/eng-fra.txt"
# The tutorial keeps pairs whose English side starts with one of these (after normalisation "i'm" -> "i m").
ENG_PREFIXES = ("i am ", "i m ", "he is ", "he s ", "she is ", "she s ", "you are ", "you re ",
                "we are ", "we re ", "they are ", "they re ")
TUTORIAL_MAX_LEN = 10  # the tutorial keeps pairs with fewer than MAX_LENGTH=10 words on both sides
FILTERS = ("tutorial", "none")
TEXTS = ("tutorial", "truecase")   # tutorial: normalised words (lower case, no accents); truecase: raw text
log = logging.getLogger(__name__)


@dataclasses.dataclass
class LoadReport:
    lines: int = 0
    pairs: int = 0
    bad: int = 0                  # lines skipped: no tab, an empty side, or not UTF-8
    not_utf8: int = 0             # of those, lines that are not valid UTF-8
    bad_examples: list = dataclasses.field(default_factory=list)  # (line number, text) of the first few

    def __str__(self):
        s = f"{self.lines} lines, {self.pairs} pairs, {self.bad} bad lines"
        if self.not_utf8:
            s += f" ({self.not_utf8} not UTF-8)"
        if self.bad_examples:
            s += " (e.g. " + "; ".join(f"line {n}: {t!r}" for n, t in self.bad_examples) + ")"
        return s


def find_data(data_dir=None, path=None) -> Path:
    """An explicit ``path`` (zip, txt or txt.gz) if given, else ``<data dir>/pytorch-tutorial/data.zip``
    (downloaded into the cache with its checksum when absent)."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise DataError(f"data file {p} " + ("is a folder" if p.exists() else "does not exist"))
        return p
    return find_file(RELPATH, data_dir, url=URL, md5=MD5)


def read_bytes(path) -> bytes:
    """The raw ``eng-fra.txt`` bytes from a zip (member :data:`MEMBER`), a .gz or a plain file; a damaged
    archive is a :class:`DataError` naming ``path``."""
    path = Path(path)
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                if MEMBER not in z.namelist():
                    raise DataError(f"{path} has no member {MEMBER!r}; is it the PyTorch tutorial "
                                    f"data.zip (download.pytorch.org/tutorial/data.zip)?")
                return z.read(MEMBER)
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise DataError(f"{path}: cannot read it ({type(e).__name__}: {e}); the file is damaged or "
                        f"truncated; download it again (delete it to re-download into the cache)") from e


def read_text(path) -> str:
    """:func:`read_bytes` decoded as UTF-8 (undecodable bytes become U+FFFD; :func:`parse_pairs` counts
    such lines as bad)."""
    return read_bytes(path).decode("utf-8", errors="replace")


def _lines(data):
    """``(line number, text or None)``: bytes are decoded line by line, None for a line that is not UTF-8."""
    if isinstance(data, str):
        for n, line in enumerate(io.StringIO(data), 1):
            yield n, (None if "\ufffd" in line else line)
        return
    for n, raw in enumerate(data.split(b"\n"), 1):   # like StringIO: only \n ends a line
        try:
            yield n, raw.decode("utf-8")
        except UnicodeDecodeError:
            yield n, None


def _raw(s):
    return s.strip()


def parse_pairs(data, report: LoadReport | None = None, text="tutorial"):
    """``[(english, french)]`` from the file's bytes (or text), normalised (``text="tutorial"``) or raw
    (``"truecase"``: stripped, otherwise as written). A line is bad if it is not UTF-8, has no tab or
    has a side that normalises to nothing; it is counted in ``report`` (the first 5 kept as examples,
    with their line numbers) and skipped. Blank lines are ignored."""
    if text not in TEXTS:
        raise ValueError(f"unknown text mode {text!r}; choose one of {TEXTS}")
    norm = normalise if text == "tutorial" else _raw
    report = report if report is not None else LoadReport()
    pairs = []
    for n, line in _lines(data):
        if line is None:
            report.lines += 1
            report.bad += 1
            report.not_utf8 += 1
            if len(report.bad_examples) < 5:
                report.bad_examples.append((n, "<not UTF-8>"))
            continue
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        report.lines += 1
        parts = line.split("\t")
        en, fr = (norm(parts[0]), norm(parts[1])) if len(parts) >= 2 else ("", "")
        if not en or not fr:
            report.bad += 1
            if len(report.bad_examples) < 5:
                report.bad_examples.append((n, line[:60]))
            continue
        pairs.append((en, fr))
    report.pairs = len(pairs)
    return pairs, report


def filter_pairs(pairs, kind="tutorial", max_words=TUTORIAL_MAX_LEN):
    """``tutorial``: English starts with one of :data:`ENG_PREFIXES` and both sides have fewer than
    ``max_words`` tokens (judged on the normalised text, so raw pairs pass as their normalised forms
    would). ``none``: everything."""
    if kind == "none":
        return list(pairs)
    if kind != "tutorial":
        raise ValueError(f"unknown filter {kind!r}; choose one of {FILTERS}")
    keep = []
    for e, f in pairs:
        ne, nf = normalise(e), normalise(f)
        if len(ne.split()) < max_words and len(nf.split()) < max_words and ne.startswith(ENG_PREFIXES):
            keep.append((e, f))
    return keep


def load_pairs(data_dir=None, path=None, kind="tutorial", text="tutorial"):
    """Read, normalise (``text``: tutorial or truecase, i.e. raw) and filter. Returns ``(pairs, report)``."""
    src = find_data(data_dir, path)
    pairs, report = parse_pairs(read_bytes(src), text=text)
    if not pairs:
        raise DataError(f"{src}: no usable English<TAB>French pairs ({report}); it should be the "
                        f"tutorial's eng-fra.txt, UTF-8, one pair a line")
    kept = filter_pairs(pairs, kind)
    if not kept:
        raise DataError(f"{src}: none of its {len(pairs)} pairs passes the {kind!r} filter; use "
                        f"filter 'none' or the full eng-fra.txt")
    if report.bad:
        log.warning(f"{src}: skipped {report.bad} bad lines ({report})")
    return kept, report


def write_cache(out_path, data_dir=None, path=None) -> Path:
    """One compact file (gzip of the raw ``eng-fra.txt``) for machines without the data archive."""
    raw = read_bytes(find_data(data_dir, path))
    return write_atomic(out_path, gzip.compress(raw, compresslevel=9))


def split(n, seed=0, fractions=(0.9, 0.05, 0.05)):
    """Fixed seeded ``{"train", "valid", "test"}`` index arrays."""
    tr, va, te = split_indices(n, list(fractions), seed=seed)
    return {"train": tr, "valid": va, "test": te}


def split_unshared(pairs, seed=0, fractions=(0.9, 0.05, 0.05)):
    """A seeded train/valid/test split in which no valid or test pair shares a source sentence with
    training, in either direction. Pairs are grouped by their English side compared as normalised text
    (:func:`jaxseq.data.vocab.normalise`: case, accents and punctuation other than .!? ignored), and whole
    groups go to one split (so every translation of "Go." lands together); then valid/test pairs whose
    normalised French side also occurs in training are dropped. Returns ``({"train", "valid", "test"}
    index arrays, {"dropped_valid": n, "dropped_test": n, "groups": n})``."""
    keys = {}
    group = np.array([keys.setdefault(normalise(e), len(keys)) for e, _ in pairs])
    g = split(len(keys), seed, fractions)
    where = np.empty(len(keys), np.int8)
    for code, name in enumerate(("train", "valid", "test")):
        where[g[name]] = code
    side = where[group]
    train = np.nonzero(side == 0)[0]
    seen_fr = {normalise(pairs[i][1]) for i in train}
    out, info = {"train": train}, {"groups": len(keys)}
    for code, name in ((1, "valid"), (2, "test")):
        idx = np.nonzero(side == code)[0]
        keep = np.array([normalise(pairs[i][1]) not in seen_fr for i in idx], bool)
        out[name] = idx[keep] if len(idx) else idx
        info[f"dropped_{name}"] = int((~keep).sum())
    return out, info


def orient(pairs, lang):
    """``(source, target)`` token lists for ``lang`` ``eng-fra`` or ``fra-eng``."""
    if lang == "eng-fra":
        return [(e.split(), f.split()) for e, f in pairs]
    if lang == "fra-eng":
        return [(f.split(), e.split()) for e, f in pairs]
    raise ValueError(f"unknown language direction {lang!r}; use eng-fra or fra-eng")


def orient_text(pairs, lang):
    """``(source, target)`` strings (raw text, for a subword model) for ``eng-fra`` or ``fra-eng``."""
    if lang == "eng-fra":
        return list(pairs)
    if lang == "fra-eng":
        return [(f, e) for e, f in pairs]
    raise ValueError(f"unknown language direction {lang!r}; use eng-fra or fra-eng")


# -------------------------------------------------------------------------------------- batching
def bucket_bounds(max_len):
    """Bucket lengths 12, 16, 24, 36, 72, ... up to one that holds ``max_len`` (few buckets: each one
    is a separate compilation)."""
    out, b = [], 12
    while True:
        out.append(b)
        if b >= max_len:
            return out
        b = b + 4 if b < 16 else b + b // 2 if b < 32 else b * 2


def encode_pairs(tok_pairs, src_vocab: Vocab, tgt_vocab: Vocab):
    """Id lists: source ends with <eos>; target ids ``y`` end with <eos> (decoder input is <sos> + y)."""
    return [(src_vocab.encode(s), tgt_vocab.encode(t)) for s, t in tok_pairs]


def make_batch(enc_pairs, src_len, tgt_len):
    """Padded arrays for one batch. src/tgt_in/tgt_out: [B, S] / [B, T] int32; masks float32."""
    B = len(enc_pairs)
    src = np.full((B, src_len), PAD_ID, np.int32)
    tgt_in = np.full((B, tgt_len), PAD_ID, np.int32)
    tgt_out = np.full((B, tgt_len), PAD_ID, np.int32)
    for i, (s, t) in enumerate(enc_pairs):
        if len(s) > src_len or len(t) > tgt_len:
            raise ValueError(f"pair {i} (lengths {len(s)}, {len(t)}) exceeds bucket ({src_len}, {tgt_len})")
        src[i, :len(s)] = s
        tgt_out[i, :len(t)] = t
        tgt_in[i, 0] = SOS_ID
        tgt_in[i, 1:len(t)] = t[:-1]
    return {"src": src, "src_mask": (src != PAD_ID).astype(np.float32),
            "tgt_in": tgt_in, "tgt_out": tgt_out, "tgt_mask": (tgt_out != PAD_ID).astype(np.float32)}


class BucketedBatches:
    """``batch(step)``: deterministic bucketed batches of a fixed size.

    Each epoch (a seeded permutation) groups examples by the bucket of ``max(len(src), len(tgt))`` and cuts
    each group into full batches (the ragged tail of a bucket is dropped for that epoch, a different one
    next epoch); the batch order is then shuffled. A batch is padded to its bucket's bound, so there are
    at most ``len(bounds)`` distinct shapes (compilations).
    """

    def __init__(self, enc_pairs, batch_size, seed=0, bounds=None):
        self.pairs = enc_pairs
        self.bs, self.seed = batch_size, seed
        lengths = np.array([max(len(s), len(t)) for s, t in enc_pairs])
        self.bounds = bounds or bucket_bounds(int(lengths.max()))
        self.bucket = length_buckets(lengths, self.bounds)
        self._epoch, self._plan = None, None
        self.n0 = len(self._make_plan(0))
        if self.n0 == 0:
            raise ValueError(f"batch size {batch_size} too large for {len(enc_pairs)} pairs in buckets "
                             f"{self.bounds}")

    def _make_plan(self, epoch):
        rng = np.random.default_rng([self.seed, epoch])
        perm = rng.permutation(len(self.pairs))
        plan = []
        for b in range(len(self.bounds)):
            idx = perm[self.bucket[perm] == b]
            for j in range(len(idx) // self.bs):
                plan.append((b, idx[j * self.bs:(j + 1) * self.bs]))
        order = rng.permutation(len(plan))
        return [plan[i] for i in order]

    def batches_per_epoch(self):
        return self.n0

    def __call__(self, step):
        # epochs are n0 steps long for every epoch so that step -> batch is a pure function (resume);
        # bucket tails make later epochs differ by a batch or two, hence the modulo.
        epoch, i = divmod(int(step), self.n0)
        if epoch != self._epoch:
            self._epoch, self._plan = epoch, self._make_plan(epoch)
        b, idx = self._plan[i % len(self._plan)]
        L = self.bounds[b]
        return make_batch([self.pairs[k] for k in idx], L, L)


def eval_batches(enc_pairs, batch_size, bounds):
    """All pairs once, in order, bucketed (padded rows fill the last batch of a bucket; ``keep`` marks
    real rows). Yields ``(indices, batch)``."""
    lengths = np.array([max(len(s), len(t)) for s, t in enc_pairs])
    bucket = length_buckets(lengths, bounds)
    for b in range(len(bounds)):
        idx = np.nonzero(bucket == b)[0]
        for j in range(0, len(idx), batch_size):
            chunk = list(idx[j:j + batch_size])
            rows = [enc_pairs[k] for k in chunk]
            rows += [rows[0]] * (batch_size - len(rows))
            yield np.array(chunk), make_batch(rows, bounds[b], bounds[b])
