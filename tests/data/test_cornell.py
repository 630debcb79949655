"""The Cornell Movie-Dialogs loader on a fixture in the real format (`` +++$+++ `` fields, ISO-8859-1,
``movie_lines.txt`` + ``movie_conversations.txt``), read from a folder and from the official zip layout."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from jaxseq.data import cornell
from jaxseq.errors import DataError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cornell"


def test_parse_fixture_folder():
    lines_text, conv_text = cornell.read_texts(FIXTURE)
    report = cornell.CornellReport()
    lines = cornell.parse_lines(lines_text, report)
    assert lines["L104"] == "I know. Café shifts pay double."     # ISO-8859-1 decoded
    assert lines["L105"] == "" and len(lines) == 9
    convs = cornell.parse_conversations(conv_text, report)
    assert convs[0] == ["L101", "L102", "L103", "L104"] and len(convs) == 3
    assert report.bad == 2 and "movie_lines.txt line 10" in report.bad_examples[0]
    pairs = cornell.pairs_from(lines, convs, report)
    # consecutive utterances; the pair with the empty L105 is skipped; L204 is missing from the lines
    assert pairs == [("Are you coming to the party tonight?", "No. I have to work."),
                     ("No. I have to work.", "On a Friday? That is sad."),
                     ("On a Friday? That is sad.", "I know. Café shifts pay double."),
                     ("Where is the money?", "I do not know."),
                     ("I do not know.", "You do not know? You had it!")]
    assert report.missing == 1


def test_official_zip_layout_and_data_dir(tmp_path):
    z = tmp_path / cornell.RELDIR / cornell.ZIPNAME
    z.parent.mkdir()
    with zipfile.ZipFile(z, "w") as f:
        for name in (cornell.LINES, cornell.CONVERSATIONS):
            f.write(FIXTURE / name, cornell.MEMBER_DIR + name)
    assert cornell.find_data(tmp_path) == z
    raw, report = cornell.load_raw_pairs(tmp_path)
    assert len(raw) == 5 and report.conversations == 3
    pairs, vocab, rep = cornell.load_pairs(tmp_path, max_words=10, min_count=1)
    assert pairs[2] == ("on a friday ? that is sad .", "i know . cafe shifts pay double .")
    assert "cafe" in vocab.stoi and rep.kept == len(pairs)
    # trimming: with min_count 2 every pair holding a word seen once goes
    kept, vocab2, _ = cornell.load_pairs(tmp_path, max_words=10, min_count=2)
    assert all(w in vocab2.stoi for p in kept for s in p for w in s.split())


def test_missing_and_damaged(tmp_path):
    with pytest.raises(DataError, match="Cornell Movie-Dialogs corpus is not here"):
        cornell.find_data(tmp_path, download_missing=False)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="damaged"):
        cornell.read_texts(bad)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as f:
        f.writestr("readme.txt", "x")
    with pytest.raises(DataError, match="no member"):
        cornell.read_texts(other)
