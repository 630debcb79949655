"""The Cornell Movie-Dialogs corpus (Danescu-Niculescu-Mizil & Lee 2011), the PyTorch chatbot tutorial's data.

The official archive ``cornell_movie_dialogs_corpus.zip`` holds, in ``cornell movie-dialogs corpus/``,
ISO-8859-1 text files whose fields are separated by ``" +++$+++ "``:

- ``movie_lines.txt``: ``lineID +++$+++ characterID +++$+++ movieID +++$+++ character name +++$+++ text``
  (``L1045 +++$+++ u0 +++$+++ m0 +++$+++ BIANCA +++$+++ They do not!``);
- ``movie_conversations.txt``: ``character1 +++$+++ character2 +++$+++ movieID +++$+++ ['L194', 'L195']``,
  the utterance ids of one conversation in order.

As in the tutorial, every two consecutive utterances of a conversation make a (line, reply) pair; pairs with
an empty side are skipped. The pairs then go through the same length filter and rare-word trimming as
:mod:`jaxseq.data.dialogue`. The corpus is looked up as ``<data>/cornell/cornell_movie_dialogs_corpus.zip``
(or an extracted folder ``<data>/cornell/`` holding the two files) and otherwise downloaded from its
official address into the cache and checked against its SHA-256 sum.
"""
from __future__ import annotations

import ast
import dataclasses
import zipfile
from pathlib import Path

from jaxseq.data import dialogue
from jaxseq.data.files import cache_dir, data_dirs, download, file_digest
from jaxseq.errors import DataError

SEP = " +++$+++ "
ENCODING = "iso-8859-1"
URL = "http://www.cs.cornell.edu/~cristian/data/cornell_movie_dialogs_corpus.zip"
# SHA-256 of the official zip (9.9 MB) as the Julia DataDeps recipe for this URL records it; not checked
# here (no internet on this machine), so a mismatch message says what to do
SHA256 = "3bde8a571f615201bc2d2453e22878090719638592f774720eddec739de8c900"
RELDIR = "cornell"
ZIPNAME = "cornell_movie_dialogs_corpus.zip"
MEMBER_DIR = "cornell movie-dialogs corpus/"
LINES, CONVERSATIONS = "movie_lines.txt", "movie_conversations.txt"


@dataclasses.dataclass
class CornellReport:
    lines: int = 0
    conversations: int = 0
    bad: int = 0                    # malformed records (wrong field count, unreadable id list)
    missing: int = 0                # utterance ids a conversation names but movie_lines.txt lacks
    bad_examples: list = dataclasses.field(default_factory=list)

    def note(self, where, n, text):
        self.bad += 1
        if len(self.bad_examples) < 5:
            self.bad_examples.append(f"{where} line {n}: {text[:60]!r}")


def parse_lines(text, report=None):
    """``{lineID: utterance}`` from ``movie_lines.txt`` text (5 fields; the utterance may be empty)."""
    report = report if report is not None else CornellReport()
    out = {}
    for n, row in enumerate(text.split("\n"), 1):
        row = row.rstrip("\r")
        if not row.strip():
            continue
        f = row.split(SEP)
        if len(f) != 5:
            report.note(LINES, n, row)
            continue
        out[f[0].strip()] = f[4].strip()
        report.lines += 1
    return out


def parse_conversations(text, report=None):
    """``[[lineID, ...]]`` from ``movie_conversations.txt`` text (the 4th field is a Python list literal)."""
    report = report if report is not None else CornellReport()
    out = []
    for n, row in enumerate(text.split("\n"), 1):
        row = row.rstrip("\r")
        if not row.strip():
            continue
        f = row.split(SEP)
        try:
            ids = ast.literal_eval(f[3]) if len(f) == 4 else None
        except (ValueError, SyntaxError):
            ids = None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            report.note(CONVERSATIONS, n, row)
            continue
        out.append(ids)
        report.conversations += 1
    return out


def pairs_from(lines, conversations, report=None):
    """The tutorial's ``extractSentencePairs``: consecutive utterances of each conversation, both
    non-empty. Raw (not normalised) strings."""
    report = report if report is not None else CornellReport()
    pairs = []
    for conv in conversations:
        for a, b in zip(conv, conv[1:]):
            if a not in lines or b not in lines:
                report.missing += 1
                continue
            if lines[a] and lines[b]:
                pairs.append((lines[a], lines[b]))
    return pairs


def find_data(data_dir=None, path=None, *, download_missing=True) -> Path:
    """An explicit ``path`` (the zip or a folder with the two files), else ``<data dir>/cornell/`` (the zip
    or the extracted files), else a download of the official zip into the cache."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise DataError(f"Cornell corpus {p} does not exist; give the zip or the folder holding "
                            f"{LINES} and {CONVERSATIONS}")
        return p
    tried = []
    for d in data_dirs(data_dir):
        for p in (d / RELDIR / ZIPNAME, d / RELDIR / LINES):
            tried.append(str(p))
            if p.exists():
                return p if p.suffix == ".zip" else p.parent
    if not download_missing:
        raise DataError("the Cornell Movie-Dialogs corpus is not here; looked in: " + ", ".join(tried) +
                        f". Download {URL} into <data dir>/{RELDIR}/")
    dest = cache_dir() / RELDIR / ZIPNAME
    download(URL, dest)
    got = file_digest(dest, "sha256")
    if got != SHA256:
        dest.unlink()
        raise DataError(f"checksum mismatch for {URL}: SHA-256 {got}, expected {SHA256}; the download was "
                        f"removed. Fetch the zip by hand into <data dir>/{RELDIR}/ if the source changed")
    return dest


def read_texts(path):
    """``(movie_lines text, movie_conversations text)`` decoded as ISO-8859-1, from the zip or a folder."""
    path = Path(path)
    try:
        if path.is_dir():
            return tuple((path / name).read_text(encoding=ENCODING) for name in (LINES, CONVERSATIONS))
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            out = []
            for name in (LINES, CONVERSATIONS):
                member = next((m for m in (MEMBER_DIR + name, name) if m in names), None)
                if member is None:
                    raise DataError(f"{path} has no member {MEMBER_DIR + name!r}; is it the Cornell "
                                    f"Movie-Dialogs zip ({URL})?")
                out.append(z.read(member).decode(ENCODING))
            return tuple(out)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path}: cannot read the Cornell corpus ({type(e).__name__}: {e}); the file is "
                        f"damaged or incomplete, download it again") from e


def load_raw_pairs(data_dir=None, path=None):
    """``(raw pairs, CornellReport)`` of the corpus found by :func:`find_data`."""
    src = find_data(data_dir, path)
    report = CornellReport()
    lines_text, conv_text = read_texts(src)
    lines = parse_lines(lines_text, report)
    pairs = pairs_from(lines, parse_conversations(conv_text, report), report)
    if not pairs:
        raise DataError(f"{src}: no line pairs found ({report.lines} lines, {report.conversations} "
                        f"conversations, {report.bad} malformed records: {report.bad_examples})")
    return pairs, report


def load_pairs(data_dir=None, max_words=dialogue.MAX_WORDS, min_count=dialogue.MIN_COUNT, path=None):
    """``(normalised pairs, Vocab, DialogueReport)`` after the tutorial's length filter and trimming."""
    raw, _ = load_raw_pairs(data_dir, path)
    return dialogue.from_raw_pairs(raw, max_words, min_count, source="Cornell corpus")
