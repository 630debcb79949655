"""IDX files (the MNIST / Fashion-MNIST format) and the two data sets that use it.

An IDX file is a big-endian header ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` uint32 sizes, then the
array in C order. Files may be gzipped (``.gz``). Data directories are searched in the order of
:func:`jaxseq.data.data_dirs`, and for Fashion-MNIST also where Debian's ``dataset-fashion-mnist`` package
installs its files (``/usr/share/datasets/fashion-mnist``).
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from jaxseq.errors import DataError
from jaxseq.data.batching import split_indices
from jaxseq.data.files import data_dirs

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

SETS = {  # name -> (sub-directory, how a user gets it)
    "fashion-mnist": ("fashion-mnist", "Install Debian's dataset-fashion-mnist package "
                      "(apt-get install dataset-fashion-mnist) or download the four *-ubyte.gz files "
                      "from the Fashion-MNIST repository into <data-dir>/fashion-mnist/"),
    "mnist": ("mnist", "Put the MNIST *-ubyte.gz files (from the MNIST site or a mirror) into "
              "<data-dir>/mnist/"),
}
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path) -> np.ndarray:
    """Read one IDX file (optionally ``.gz``) into a numpy array of its stored dtype (native order)."""
    path = Path(path)
    try:
        with _open(path) as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip raises EOFError on a cut-off stream
        raise DataError(f"{path}: cannot read IDX file ({e}); the file is damaged or truncated, "
                        f"download it again") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (magic bytes {raw[:4].hex() or 'missing'}, "
                        f"expected 0000<type><ndim>)")
    code, ndim = raw[2], raw[3]
    if code not in _DTYPES:
        raise DataError(f"{path}: unknown IDX element type 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header})")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[code])
    need = header + dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    if len(raw) != need:
        raise DataError(f"{path}: IDX header says shape {shape} ({need} bytes) but the file holds "
                        f"{len(raw)} bytes; it is truncated or damaged, download it again")
    arr = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path, arr) -> None:
    """Write ``arr`` as an IDX file (gzipped if ``path`` ends in .gz); used for tests and tiny fixtures."""
    arr = np.asarray(arr)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}
    code = codes[arr.dtype.newbyteorder("=")]
    body = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    body += arr.astype(np.dtype(_DTYPES[code])).tobytes()
    path = Path(path)
    with (gzip.open(path, "wb") if path.suffix == ".gz" else open(path, "wb")) as f:
        f.write(body)


def _candidates(name, data_dir):
    sub = SETS[name][0]
    dirs = [d / sub for d in data_dirs(data_dir)]
    if name == "fashion-mnist":
        dirs.append(DEBIAN_FASHION_MNIST)
    return dirs


def _find(name, stem, data_dir):
    tried = []
    for d in _candidates(name, data_dir):
        for fn in (stem + ".gz", stem):
            p = d / fn
            tried.append(str(p))
            if p.exists():
                return p
    raise DataError(f"{name}: {stem}[.gz] not found; looked in: {', '.join(tried)}. "
                    f"{SETS[name][1]}. Give that data directory, or set JAXSEQ_DATA=DIR.")


def has_split(name, split, data_dir=None) -> bool:
    try:
        for stem in FILES[split]:
            _find(name, stem, data_dir)
        return True
    except DataError:
        return False


def load_images(name, split, data_dir=None):
    """``(images uint8 [N, 28, 28], labels int32 [N])`` of ``split`` ('train' or 'test') of ``name``."""
    if name not in SETS:
        raise ValueError(f"unknown IDX data set {name!r}; choose one of {sorted(SETS)}")
    if split not in FILES:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    img_path, lab_path = (_find(name, s, data_dir) for s in FILES[split])
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{img_path} / {lab_path}: shapes {images.shape} and {labels.shape} do not "
                        f"form an image set with one label per image")
    return images, labels.astype(np.int32)


def load_split(name, data_dir=None, t10k_split=0.0, seed=0):
    """Flattened ``(train_x uint8 [N, 784], train_y, test_x, test_y, description)``.

    ``t10k_split > 0`` trains on a seeded fraction of the 10k TEST images and scores the rest: a labelled
    fallback where only t10k exists (MNIST here), not comparable with published numbers.
    """
    if t10k_split > 0:
        x, y = load_images(name, "test", data_dir)
        tr, te = split_indices(len(x), [t10k_split, 1 - t10k_split], seed=seed)
        desc = (f"{name} t10k split: train on {len(tr)} test images, score the other {len(te)} "
                f"(NOT the standard split)")
        return x[tr].reshape(len(tr), -1), y[tr], x[te].reshape(len(te), -1), y[te], desc
    if not has_split(name, "train", data_dir):
        raise DataError(f"{name}: the training files (train-images-idx3-ubyte[.gz], "
                        f"train-labels-idx1-ubyte[.gz]) are missing (looked in "
                        f"{', '.join(str(d) for d in _candidates(name, data_dir))}). {SETS[name][1]}; "
                        f"or train on part of the test set with t10k_split=0.8 (a clearly non-standard "
                        f"split).")
    xtr, ytr = load_images(name, "train", data_dir)
    xte, yte = load_images(name, "test", data_dir)
    return (xtr.reshape(len(xtr), -1), ytr, xte.reshape(len(xte), -1), yte,
            f"{name} standard split: {len(xtr)} train / {len(xte)} test")
