"""The IDX reader/writer (MNIST / Fashion-MNIST), the data-directory search with the Debian fallback, the
train/test split loader with its t10k fallback, and the real files."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from jaxseq.data import mnist as idx
from jaxseq.errors import DataError


@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip_handmade(tmp_path, gz):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / ("a.idx" + (".gz" if gz else ""))
    idx.write_idx(p, arr)
    raw = (gzip.open(p) if gz else open(p, "rb")).read()
    assert raw[:4] == bytes([0, 0, 0x08, 3]) and raw[4:8] == (2).to_bytes(4, "big")
    np.testing.assert_array_equal(idx.read_idx(p), arr)
    f = np.array([1.5, -2.0], np.float32)
    idx.write_idx(tmp_path / "f.idx", f)
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "f.idx"), f)


def test_idx_truncated_file_error(tmp_path):
    p = tmp_path / "t.idx"
    idx.write_idx(p, np.zeros((10, 28, 28), np.uint8))
    p.write_bytes(p.read_bytes()[:500])
    with pytest.raises(DataError, match=r"t\.idx.*truncated"):
        idx.read_idx(p)
    g = tmp_path / "t.idx.gz"
    g.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + b"\x01\x02"))
    with pytest.raises(DataError, match="truncated"):
        idx.read_idx(g)
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"PK\x03\x04rest")
    with pytest.raises(DataError, match="not an IDX file"):
        idx.read_idx(bad)


def test_missing_split_names_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXSEQ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "mnist").mkdir()
    assert not idx.has_split("mnist", "train", tmp_path)
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        idx.load_images("mnist", "train", tmp_path)
    with pytest.raises(DataError, match="t10k_split=0.8") as e:   # names the value, not a CLI flag
        idx.load_split("mnist", tmp_path)
    assert "--" not in str(e.value)


def test_load_split_t10k_fallback(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXSEQ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    d = tmp_path / "mnist"
    d.mkdir()
    imgs = (np.arange(10 * 28 * 28) % 256).astype(np.uint8).reshape(10, 28, 28)
    idx.write_idx(d / "t10k-images-idx3-ubyte.gz", imgs)
    idx.write_idx(d / "t10k-labels-idx1-ubyte.gz", np.arange(10, dtype=np.uint8))
    xtr, ytr, xte, yte, desc = idx.load_split("mnist", tmp_path, t10k_split=0.8, seed=0)
    assert xtr.shape == (8, 784) and xte.shape == (2, 784) and "NOT the standard split" in desc
    assert sorted(ytr.tolist() + yte.tolist()) == list(range(10))
    np.testing.assert_array_equal(idx.load_split("mnist", tmp_path, 0.8, seed=0)[1], ytr)


def test_real_fashion_mnist_and_mnist(data_dir):
    x, y = idx.load_images("fashion-mnist", "test", data_dir)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and set(np.unique(y)) == set(range(10))
    if idx.has_split("fashion-mnist", "train", data_dir):
        xt, _ = idx.load_images("fashion-mnist", "train", data_dir)
        assert xt.shape == (60000, 28, 28)
    if (data_dir / "mnist").is_dir():
        xm, ym = idx.load_images("mnist", "test", data_dir)
        assert xm.shape == (10000, 28, 28) and np.bincount(ym).min() > 800


def test_debian_fallback_location(tmp_path, monkeypatch):
    """With no data dir and no $JAXSEQ_DATA, Fashion-MNIST is found where Debian's package puts it."""
    monkeypatch.delenv("JAXSEQ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    deb = tmp_path / "usr_share_datasets_fashion-mnist"
    deb.mkdir()
    imgs = np.random.default_rng(0).integers(0, 256, (4, 28, 28)).astype(np.uint8)
    idx.write_idx(deb / "t10k-images-idx3-ubyte.gz", imgs)
    idx.write_idx(deb / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 2, 9], np.uint8))
    monkeypatch.setattr(idx, "DEBIAN_FASHION_MNIST", deb)
    x, y = idx.load_images("fashion-mnist", "test")
    np.testing.assert_array_equal(x, imgs)
    assert y.tolist() == [0, 1, 2, 9] and y.dtype == np.int32
    assert not idx.has_split("mnist", "test")   # the Debian fallback is for Fashion-MNIST only
