"""CIFAR-10 (Krizhevsky 2009) from the official "python version" tarball, ``cifar-10-python.tar.gz``.

The archive holds ``cifar-10-batches-py/data_batch_1`` .. ``data_batch_5`` (train, 10,000 images each)
and ``test_batch`` (10,000): pickled dicts with ``b"data"``, uint8 ``[N, 3072]`` (1024 red, then 1024
green, then 1024 blue values of a 32x32 image, row-major), and ``b"labels"``, N ints in 0..9. The
archive is read in place (never extracted) with an unpickler that admits numpy arrays only.

Resolution: an explicit ``path`` (the tarball or an extracted ``cifar-10-batches-py`` folder), then
``<data_dir>/cifar10/cifar-10-python.tar.gz``, ``$JAXSEQ_DATA/cifar10/...``, the user cache, and a
download from the official URL checked against its MD5 (:func:`jaxseq.data.files.find_file`).
"""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from jaxseq.data.files import find_file, md5sum
from jaxseq.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
RELPATH = "cifar10/cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
HOW_TO_GET = (f"Download {URL} (MD5 {MD5}) into <data-dir>/cifar10/ (it is fetched there by itself "
              f"when the machine is online)")

_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("builtins", "list"), ("builtins", "dict"),
            ("_codecs", "encode")}   # how protocol-2 pickles written by Python 3 spell bytes


class _NumpyOnly(pickle.Unpickler):
    """An unpickler that refuses every global but numpy's array reconstruction: a batch file is data,
    and a tampered one must not run code."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch file")


def decode_batch(raw: bytes, where: str):
    """One pickled batch -> ``(images uint8 [N, 32, 32, 3] NHWC, labels int32 [N])``."""
    try:
        d = _NumpyOnly(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # a damaged or foreign pickle: any of several exception types
        raise DataError(f"{where}: not a CIFAR-10 batch pickle ({e}); download the archive again") from e
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise DataError(f"{where}: a CIFAR-10 batch needs the keys b'data' and b'labels'; found "
                        f"{sorted(d) if isinstance(d, dict) else type(d).__name__}")
    data = np.asarray(d[b"data"])
    labels = np.asarray(d[b"labels"], np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{where}: b'data' is {data.dtype} {data.shape} with {len(labels)} labels; "
                        f"expected uint8 [N, 3072] and N labels")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{where}: labels outside 0..9 (min {labels.min()}, max {labels.max()})")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int32)


def _read_members(path: Path, names):
    """``{name: bytes}`` of ``cifar-10-batches-py/<name>`` from a tarball or an extracted folder."""
    if path.is_dir():
        root = path / FOLDER if (path / FOLDER).is_dir() else path
        missing = [n for n in names if not (root / n).is_file()]
        if missing:
            raise DataError(f"{root}: missing CIFAR-10 batch files {missing}")
        return {n: (root / n).read_bytes() for n in names}
    out = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for n in names:
                try:
                    out[n] = tar.extractfile(f"{FOLDER}/{n}").read()
                except KeyError:
                    raise DataError(f"{path}: the archive has no {FOLDER}/{n}; is it the python "
                                    f"version of CIFAR-10 ({URL})?") from None
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read the CIFAR-10 archive ({e}); download it again") from e
    return out


def locate(path=None, data_dir=None, *, md5=MD5, url=URL) -> Path:
    """The archive (or extracted folder) to read: ``path`` if given, else the data-dir search with a
    checksummed download from ``url``. A located tarball is checked against ``md5`` (None skips it)."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise DataError(f"CIFAR-10: {p} does not exist. {HOW_TO_GET}")
    else:
        p = find_file(RELPATH, data_dir, url=url, md5=md5, how_to_get=HOW_TO_GET)
    if p.is_file() and md5 is not None:
        got = md5sum(p)
        if got != md5:
            raise DataError(f"{p}: MD5 {got} does not match the official archive's {md5}; the file is "
                            f"damaged or not {Path(URL).name}: download it again")
    return p


def load(split, path=None, data_dir=None, *, md5=MD5, url=URL):
    """``(images uint8 [N, 32, 32, 3], labels int32 [N])`` of ``split`` ('train' or 'test')."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown CIFAR-10 split {split!r}; choose 'train' or 'test'")
    p = locate(path, data_dir, md5=md5, url=url)
    names = TRAIN_BATCHES if split == "train" else TEST_BATCHES
    parts = [decode_batch(raw, f"{p}:{n}") for n, raw in _read_members(p, names).items()]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def load_split(path=None, data_dir=None, *, md5=MD5, url=URL):
    """``(train_x uint8 [50000, 32, 32, 3], train_y, test_x [10000, ...], test_y, description)``, the
    same tuple as :func:`jaxseq.data.mnist.load_split` but with NHWC images."""
    p = locate(path, data_dir, md5=md5, url=url)
    xtr, ytr = load("train", p, md5=None)
    xte, yte = load("test", p, md5=None)
    return xtr, ytr, xte, yte, f"cifar10 standard split: {len(xtr)} train / {len(xte)} test"
