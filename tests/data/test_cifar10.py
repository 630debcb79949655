"""The CIFAR-10 loader on a small archive written here in the official python-version format (pickled
dicts of b"data" uint8 [N, 3072] channel-major and b"labels" inside cifar-10-batches-py/ of a tar.gz).
The real archive is not available on this machine."""
from __future__ import annotations

import os
import pickle
import tarfile

import numpy as np
import pytest

from fixtures.cifar10_fixture import write_fixture
from jaxseq.data import cifar10
from jaxseq.data.files import md5sum
from jaxseq.errors import DataError


def test_fixture_archive_roundtrip(tmp_path):
    arc = tmp_path / "cifar-10-python.tar.gz"
    truth = write_fixture(arc)
    md5 = md5sum(arc)
    xtr, ytr, xte, yte, desc = cifar10.load_split(arc, md5=md5)
    assert xtr.shape == (20, 32, 32, 3) and xtr.dtype == np.uint8 and ytr.dtype == np.int32
    np.testing.assert_array_equal(xtr[:4], truth["data_batch_1"][0])     # channel order and layout
    np.testing.assert_array_equal(xtr[16:], truth["data_batch_5"][0])
    np.testing.assert_array_equal(yte, truth["test_batch"][1])
    np.testing.assert_array_equal(xte, truth["test_batch"][0])
    assert "50000" not in desc and "20 train / 4 test" in desc
    with pytest.raises(DataError, match="MD5 .* does not match"):       # the official sum refuses it
        cifar10.load("test", arc)


def test_data_dir_resolution_and_no_download(tmp_path, monkeypatch):
    d = tmp_path / "data"
    (d / "cifar10").mkdir(parents=True)
    write_fixture(d / cifar10.RELPATH)
    monkeypatch.setenv("JAXSEQ_DATA", str(d))
    x, y = cifar10.load("test", md5=md5sum(d / cifar10.RELPATH))
    assert x.shape == (4, 32, 32, 3)
    monkeypatch.setenv("JAXSEQ_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="cifar-10-python.tar.gz|cifar10"):
        cifar10.load("test", url=None)                                  # offline: names where to put it


def test_extracted_folder_and_bad_files(tmp_path):
    arc = tmp_path / "a.tar.gz"
    write_fixture(arc)
    with tarfile.open(arc) as t:
        t.extractall(tmp_path / "x", filter="data")
    x, _ = cifar10.load("train", tmp_path / "x", md5=None)
    assert x.shape == (20, 32, 32, 3)
    os.remove(tmp_path / "x" / cifar10.FOLDER / "test_batch")
    with pytest.raises(DataError, match="missing CIFAR-10 batch files"):
        cifar10.load("test", tmp_path / "x", md5=None)
    evil = pickle.dumps({b"data": os.getcwd, b"labels": []})            # a pickle naming a function
    with pytest.raises(DataError, match="refusing to load"):
        cifar10.decode_batch(evil, "evil")
    bad = pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    with pytest.raises(DataError, match=r"expected uint8 \[N, 3072\]"):
        cifar10.decode_batch(bad, "bad")
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(DataError, match="cannot read the CIFAR-10 archive"):
        cifar10.load("test", tmp_path / "junk.tar.gz", md5=None)
    with pytest.raises(ValueError, match="unknown CIFAR-10 split"):
        cifar10.load("valid", arc, md5=None)
