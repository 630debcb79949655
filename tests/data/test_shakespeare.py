"""Tiny Shakespeare: the charset round trip on the real text, the compact cache, windows."""
from __future__ import annotations

import numpy as np
import pytest

from jaxseq.data import shakespeare
from jaxseq.data.charset import Charset
from jaxseq.errors import DataError


def test_cache_roundtrip_and_errors(tmp_path):
    ids, cs = shakespeare.encode_text("To be, or not to be:\nthat is the question.")
    p = shakespeare.write_cache(tmp_path / "sub" / "c.npz", ids, cs)
    ids2, cs2 = shakespeare.read_cache(p)
    np.testing.assert_array_equal(ids2, ids)
    assert cs2.chars == cs.chars and ids2.dtype == np.int32
    with np.load(p) as z:   # indices into the sorted characters, readable without jaxseq
        assert str(z["chars"]) == "".join(sorted(set("To be, or not to be:\nthat is the question.")))
        assert z["tokens"].dtype == np.uint8 and int(z["tokens"].min()) == 0
    with pytest.raises(DataError, match="missing.npz"):
        shakespeare.read_cache(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", other=np.zeros(3))
    with pytest.raises(DataError, match=r"bad\.npz.*tokens"):
        shakespeare.read_cache(tmp_path / "bad.npz")


def test_windows_deterministic_and_split():
    data = np.arange(1000)
    a = shakespeare.random_windows(data, 7, 4, 11, seed=2)
    assert a.shape == (4, 11) and (np.diff(a, axis=1) == 1).all()
    np.testing.assert_array_equal(a, shakespeare.random_windows(data, 7, 4, 11, seed=2))
    assert not np.array_equal(a, shakespeare.random_windows(data, 8, 4, 11, seed=2))
    s = shakespeare.spread_windows(data, 5, 32)
    assert s[0, 0] == 0 and s[-1, -1] == 998 and (np.diff(s[:, 0]) >= 32).all()
    tr, va = shakespeare.split(data)
    assert len(tr) == 900 and va[0] == 900
    with pytest.raises(ValueError, match="too short"):
        shakespeare.random_windows(data[:5], 0, 1, 11)


def test_missing_text_names_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXSEQ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="tinyshakespeare/input.txt"):
        shakespeare.load(tmp_path)


def test_tinyshakespeare_charset_roundtrip(data_dir):
    ids, cs = shakespeare.load(data_dir)
    text = (data_dir / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    assert isinstance(cs, Charset) and cs.size == 65 + 1   # 65 characters and the unknown symbol
    assert len(ids) == len(text) and ids.min() >= 1 and cs.decode(ids[:500]) == text[:500]
    with pytest.warns(UserWarning, match="not in the model's charset"):   # reported, never silent
        assert cs.encode("caf\u00e9")[-1] == cs.unknown_id


@pytest.mark.parametrize("data, what", [(b"", "only 0 characters"), (b"To be.\n", "only 7 characters"),
                                        ("caf\u00e9\n".encode("latin-1") * 300, "not UTF-8 text .*line 1")])
def test_bad_text_names_the_file(tmp_path, data, what):
    p = tmp_path / "tinyshakespeare" / "input.txt"
    p.parent.mkdir()
    p.write_bytes(data)
    with pytest.raises(DataError, match=f"{p}: {what}"):
        shakespeare.load(tmp_path)


def test_corrupt_cache_names_the_file(tmp_path):
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DataError, match=f"{tmp_path / 'c.npz'}: not a tiny-Shakespeare cache"):
        shakespeare.read_cache(tmp_path / "c.npz")
