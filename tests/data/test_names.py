"""The names loader: the tutorial's ASCII folding, user-name checks, ids, the stratified split, reading the
zip (hand-made and real)."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from jaxseq.data import names as nd
from jaxseq.errors import DataError


def write_zip(path, files):
    """A tutorial-style zip: ``files`` {language: text} as data/names/<language>.txt."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("data/eng-fra.txt", "I am.\tJe suis.\n")
        for lang, text in files.items():
            z.writestr(f"data/names/{lang}.txt", text.encode("utf-8") if isinstance(text, str) else text)
    path.write_bytes(buf.getvalue())
    return path


def test_folding_is_the_tutorials():
    assert nd.to_ascii("Ślusàrski") == "Slusarski"
    assert nd.to_ascii("Müller") == "Muller" and nd.to_ascii("Straße") == "Strae"   # ß is dropped
    assert nd.to_ascii("O'Neal, J.") == "O'Neal, J." and len(nd.ALPHABET) == 57


def test_check_name_names_the_value():
    assert nd.check_name("  Müller ") == "Muller"
    for bad, what in (("Straße", "'ß'"), ("Smith3", "'3'"), ("李", "'李'"), ("", "empty"), ("  ", "empty")):
        with pytest.raises(ValueError, match=what):
            nd.check_name(bad)
    with pytest.raises(ValueError, match="start letter '9'"):
        nd.check_name("9", "start letter")


def test_ids_roundtrip_and_padding():
    ids, lengths = nd.pad_ids(["Abe", "O'Neil"], 8)
    assert ids.shape == (2, 8) and lengths.tolist() == [3, 6] and (ids[0, 3:] == 0).all()
    assert nd.decode(ids[1]) == "O'Neil" and ids.min() == 0 and ids.max() <= 57
    with pytest.raises(ValueError, match="O'Neil.*6 letters.*at most 4"):
        nd.pad_ids(["Abe", "O'Neil"], 4)


def test_stratified_split_keeps_proportions_and_is_seeded():
    labels = np.repeat(np.arange(3), [100, 20, 5])
    tr, va, te = nd.stratified_split(labels, (0.8, 0.1, 0.1), seed=3)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(125))
    assert np.bincount(labels[tr]).tolist() == [80, 16, 3]
    assert np.bincount(labels[te], minlength=3).tolist() == [10, 2, 1]   # every class in every part
    again = nd.stratified_split(labels, (0.8, 0.1, 0.1), seed=3)
    assert all((a == b).all() for a, b in zip((tr, va, te), again))
    assert not (nd.stratified_split(labels, (0.8, 0.1, 0.1), seed=4)[2] == te).all()


def test_load_zip_folds_and_deduplicates(tmp_path):
    z = write_zip(tmp_path / "data.zip", {"Polish": "Ślusarski\nNowak\nNowak\n\n", "German": "Müller\nAbel\n",
                                          "English": "Abel\n"})
    d = nd.load(path=z)
    assert d.languages == ["English", "German", "Polish"]
    assert d.names == ["Abel", "Muller", "Abel", "Slusarski", "Nowak"]
    assert d.labels.tolist() == [0, 1, 1, 2, 2] and d.counts() == {"English": 1, "German": 2, "Polish": 2}


def test_bad_zips_name_the_file(tmp_path):
    with pytest.raises(DataError, match=r"nonames\.zip has no data/names"):
        nd.load(path=write_zip(tmp_path / "nonames.zip", {}))
    with pytest.raises(DataError, match=r"Empty\.txt holds no names"):
        nd.load(path=write_zip(tmp_path / "e.zip", {"Empty": "\n\n", "German": "Abel\n"}))
    with pytest.raises(DataError, match=r"German\.txt is not UTF-8 \(line 2\)"):
        nd.load(path=write_zip(tmp_path / "l1.zip", {"German": "Abel\nM\u00fcller\n".encode("latin-1")}))
    (tmp_path / "cut.zip").write_bytes(write_zip(tmp_path / "x.zip", {"A": "Abe\n"}).read_bytes()[:40])
    with pytest.raises(DataError, match=r"cut\.zip: cannot read it"):
        nd.load(path=tmp_path / "cut.zip")
    with pytest.raises(DataError, match="missing.zip does not exist"):
        nd.load(path=tmp_path / "missing.zip")


def test_real_names(data_dir):
    d = nd.load(data_dir)
    assert len(d.languages) == 18 and len(d) == 17994          # 20,074 lines, 2,080 repeats dropped
    assert d.counts()["Russian"] == 9341 and d.counts()["Vietnamese"] == 71
    assert all(set(n) <= set(nd.ALPHABET) for n in d.names) and max(map(len, d.names)) == 19
    tr, va, te = nd.split(d, seed=0)
    assert (len(tr), len(va), len(te)) == (14394, 1801, 1799)
    assert min(te.counts().values()) >= 7 and not set(zip(tr.names, tr.labels)) & set(zip(te.names, te.labels))
