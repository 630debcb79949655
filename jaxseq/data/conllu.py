"""CoNLL-U (Universal Dependencies) files: sentences of words with their tags.

Format (universaldependencies.org/format.html): one token a line, ten TAB-separated fields
``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``; ``#`` comment lines (``# sent_id = ...``,
``# text = ...``) before a sentence; a blank line ends a sentence. Multiword-token lines (ID ``3-4``) and
empty nodes (ID ``5.1``) carry no tag of their own and are skipped, so ``words`` are the syntactic words
the tags belong to. ``_`` stands for an empty field. Errors name the file and the line.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from jaxseq.errors import DataError

FIELDS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
_RANGE = re.compile(r"^\d+-\d+$")
_EMPTY = re.compile(r"^\d+\.\d+$")


@dataclasses.dataclass
class Sentence:
    words: list
    upos: list
    xpos: list
    lemmas: list
    sent_id: str | None = None
    text: str | None = None
    line: int = 0                 # line number of the sentence's first token

    def tags(self, tagset="upos"):
        if tagset not in ("upos", "xpos"):
            raise ValueError(f"tagset {tagset!r}: choose upos or xpos")
        return self.upos if tagset == "upos" else self.xpos


def parse(text: str, source="<string>") -> list[Sentence]:
    """Every sentence of CoNLL-U ``text``; a malformed line is a :class:`DataError` naming
    ``source:line``."""
    sents, cur, meta, expect = [], None, {}, 1

    def finish():
        nonlocal cur, meta, expect
        if cur is not None:
            sents.append(cur)
        cur, meta, expect = None, {}, 1

    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            finish()
            continue
        if line.startswith("#"):
            if cur is not None:
                raise DataError(f"{source}:{n}: a comment inside a sentence; comments go before its "
                                f"first token line")
            m = re.match(r"#\s*(sent_id|text)\s*=\s?(.*)$", line)
            if m:
                meta[m.group(1)] = m.group(2)
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise DataError(f"{source}:{n}: expected 10 TAB-separated fields, got {len(cols)}: {line[:60]!r}")
        tid = cols[0]
        if _RANGE.match(tid) or _EMPTY.match(tid):
            continue
        if not tid.isdigit():
            raise DataError(f"{source}:{n}: token id {tid!r} is not a number, a range (3-4) or a decimal (5.1)")
        if int(tid) != expect:
            raise DataError(f"{source}:{n}: token id {tid} where {expect} was expected (ids count 1, 2, ... "
                            f"in each sentence; a blank line must end the previous one)")
        if not cols[1]:
            raise DataError(f"{source}:{n}: empty FORM field")
        if cur is None:
            cur = Sentence([], [], [], [], meta.get("sent_id"), meta.get("text"), n)
        cur.words.append(cols[1])
        cur.lemmas.append(cols[2])
        cur.upos.append(cols[3])
        cur.xpos.append(cols[4])
        expect += 1
    finish()
    return sents


def read(path) -> list[Sentence]:
    """The sentences of the CoNLL-U file ``path`` (UTF-8); a file without any is a :class:`DataError`."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"CoNLL-U file {p} " + ("is a folder" if p.exists() else "does not exist"))
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line = p.read_bytes()[:e.start].count(b"\n") + 1
        raise DataError(f"{p}:{line}: not UTF-8 text; CoNLL-U files are UTF-8") from e
    sents = parse(text, str(p))
    if not sents:
        raise DataError(f"{p}: no sentences (an empty corpus); a CoNLL-U file holds token lines of 10 "
                        f"TAB-separated fields")
    return sents


def tagged(sentences, tagset="upos", source="corpus"):
    """``[(words, tags)]``; a sentence with an unset tag (``_``) is a :class:`DataError` naming it."""
    out = []
    for s in sentences:
        tags = s.tags(tagset)
        if "_" in tags:
            raise DataError(f"{source}:{s.line}: sentence {s.sent_id or ''} has no {tagset.upper()} tag for "
                            f"{s.words[tags.index('_')]!r}; use the other tag set")
        out.append((list(s.words), list(tags)))
    return out
