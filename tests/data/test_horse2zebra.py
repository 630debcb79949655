"""The horse2zebra loader on a small zip written in the official layout (horse2zebra is not available
here): folders trainA/trainB/testA/testB of JPEGs inside horse2zebra/, a greyscale photo among them."""
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from jaxseq.data import horse2zebra as h2z
from jaxseq.data.files import md5sum
from jaxseq.errors import DataError

COUNTS = {"trainA": 3, "trainB": 4, "testA": 2, "testB": 1}


def _jpeg(value, mode="RGB", size=16):
    buf = io.BytesIO()
    colour = value if mode == "L" else (value, 255 - value, value // 2)
    Image.new(mode, (size, size), colour).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _write_zip(path, counts=COUNTS):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("horse2zebra/", b"")
        for folder, n in counts.items():
            for i in range(n):   # names out of order: the loader sorts them
                mode = "L" if (folder, i) == ("trainA", 1) else "RGB"
                zf.writestr(f"horse2zebra/{folder}/n0238_{n - i:04d}.jpg", _jpeg(40 * i + 10, mode))
        zf.writestr("horse2zebra/trainA/notes.txt", b"not an image")
    return path


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXSEQ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _write_zip(tmp_path / "horse2zebra.zip")
    return tmp_path


def test_load_split_from_zip(data_dir):
    x = h2z.load_split("train", "A", data_dir)
    assert x.shape == (3, 16, 16, 3) and x.dtype == np.uint8
    # sorted by name: n0238_0001 was written last (i = 2, value 90)
    assert abs(int(x[0, 8, 8, 0]) - 90) <= 3 and abs(int(x[0, 8, 8, 1]) - 165) <= 3
    grey = x[1]   # the greyscale JPEG comes back as RGB with equal channels
    assert np.all(grey[..., 0] == grey[..., 1])
    assert h2z.load_split("test", "B", data_dir).shape == (1, 16, 16, 3)


def test_resize_limit_and_domains(data_dir):
    assert h2z.load_split("train", "B", data_dir, size=8, limit=2).shape == (2, 8, 8, 3)
    d = h2z.load_domains(data_dir, size=8)
    assert {k: len(v) for k, v in d.items()} == {"train_a": 3, "train_b": 4, "test_a": 2, "test_b": 1}


def test_extracted_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXSEQ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with zipfile.ZipFile(_write_zip(tmp_path / "src.zip")) as zf:
        zf.extractall(tmp_path / "data")
    x = h2z.load_split("test", "A", tmp_path / "data")
    np.testing.assert_array_equal(x, h2z.load_split("test", "A", tmp_path / "data"))
    assert x.shape == (2, 16, 16, 3)


def test_checksum_enforced_when_given(data_dir):
    good = md5sum(data_dir / "horse2zebra.zip")
    assert h2z.load_split("test", "A", data_dir, md5=good).shape[0] == 2
    with pytest.raises(DataError, match="MD5"):
        h2z.load_split("test", "A", data_dir, md5="0" * 32)
    assert h2z.MD5 is None   # the official checksum is not known here: documented, never invented


def test_errors(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "nocache"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="efrosgans.eecs.berkeley.edu"):
        h2z.load_split("train", "A", empty)
    with pytest.raises(ValueError, match="domain"):
        h2z.load_split("train", "C", data_dir)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "horse2zebra.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="zip"):
        h2z.load_split("train", "A", bad)
    broken = tmp_path / "broken"
    broken.mkdir()
    with zipfile.ZipFile(broken / "horse2zebra.zip", "w") as zf:
        zf.writestr("horse2zebra/testA/x.jpg", b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError, match="x.jpg"):
        h2z.load_split("test", "A", broken)
    with pytest.raises(DataError, match="no images in testB"):
        h2z.load_split("test", "B", broken)
