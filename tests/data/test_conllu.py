"""The CoNLL-U reader on a hand-written file (tests/fixtures/toy.conllu: multiword tokens and empty nodes
skipped) and on malformed input (errors name the file and line)."""
from __future__ import annotations

from pathlib import Path

import pytest

from jaxseq.data import conllu
from jaxseq.errors import DataError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "toy.conllu"


def test_reads_the_fixture():
    s = conllu.read(FIXTURE)
    assert len(s) == 3
    assert s[0].words == ["The", "dog", "ate", "the", "apple", "."]
    assert s[0].upos == ["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"]
    assert s[0].xpos[2] == "VBD" and s[0].lemmas[2] == "eat"
    assert s[0].sent_id == "toy-1" and s[0].text == "The dog ate the apple."
    assert s[2].words == ["She", "did", "n't", "see", "it", "."]      # 2-3 range and 5.1 skipped
    assert s[1].line == 13
    pairs = conllu.tagged(s, "xpos")
    assert pairs[1] == (["Everybody", "read", "that", "book"], ["NN", "VBD", "DT", "NN"])


def test_no_trailing_blank_line_and_crlf():
    text = "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\r\n\r\n1\tYo\tyo\tINTJ\tUH\t_\t0\troot\t_\t_"
    s = conllu.parse(text)
    assert [x.words for x in s] == [["Hi"], ["Yo"]]


@pytest.mark.parametrize("text, words", [
    ("1\tHi\thi\tINTJ\n", ["line 1", "10 TAB-separated fields, got 4"]),
    ("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n3\tx\tx\tX\tX\t_\t0\tdep\t_\t_\n", ["line 2", "token id 3"]),
    ("a\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n", ["'a'"]),
    ("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n# late\n", ["comment inside a sentence"]),
])
def test_malformed(tmp_path, text, words):
    f = tmp_path / "bad.conllu"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as e:
        conllu.read(f)
    msg = str(e.value).replace(f"{f}:", "line ")
    for w in words:
        assert w in msg, msg


def test_empty_missing_and_not_utf8(tmp_path):
    f = tmp_path / "empty.conllu"
    f.write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="empty corpus"):
        conllu.read(f)
    with pytest.raises(DataError, match="does not exist"):
        conllu.read(tmp_path / "nope.conllu")
    g = tmp_path / "latin1.conllu"
    g.write_bytes("1\tcaf\xe9\tx\tNOUN\tNN\t_\t0\troot\t_\t_\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        conllu.read(g)


def test_unset_tags_are_an_error():
    s = conllu.parse("1\tHi\thi\t_\tUH\t_\t0\troot\t_\t_\n", "x.conllu")
    with pytest.raises(DataError, match="UPOS"):
        conllu.tagged(s, "upos", "x.conllu")
    assert conllu.tagged(s, "xpos")[0][1] == ["UH"]
