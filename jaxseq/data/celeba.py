"""CelebA, aligned and cropped (Liu et al. 2015), the data set of the PyTorch DCGAN tutorial: the official
``img_align_celeba.zip`` (202,599 JPEGs of 178x218 faces under ``img_align_celeba/``) and
``list_eval_partition.txt`` (``000001.jpg 0`` per line: 0 train, 1 validation, 2 test; 162,770 / 19,867 /
19,962 images).

**Not available on this machine or the lent GPU**, and not downloadable by script: the official copies sit
on Google Drive and Baidu behind the project page, which needs a browser (Drive asks to confirm large
files). :func:`load` therefore finds the two files through :func:`jaxseq.data.files.find_file`
(``data_dir``, then ``$JAXSEQ_DATA``, then the user cache, each under ``celeba/``) and otherwise raises
an error saying where to get them; ``verify=True`` checks them against the official MD5 sums below (the
sums torchvision's ``CelebA`` checks too). Tested on a fixture in the same format
(``tests/data/test_celeba.py``).

JPEGs are decoded with Pillow (already installed as a matplotlib dependency): each face is centre-cropped
to a square (``crop`` pixels, default the full 178 width) and resized to ``size`` (64: the DCGAN tutorial's
``Resize(64)`` + ``CenterCrop(64)``, up to resampling order), bilinear with antialiasing. Pillow's JPEG
draft mode decodes at a reduced scale first when the target is much smaller, which is several times
faster and does not change what the crop covers.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np

from jaxseq.data.files import file_digest, find_file
from jaxseq.errors import DataError

PROJECT_PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
# The official Google Drive files (file id, MD5, name) linked from the project page's "Align&Cropped
# Images" and "Eval" folders.
FILES = {
    "images": ("0B7EVK8r0v71pZjFTYXZWM3FlRnM", "00d2c5bc6d35e252742224ab0c1e8fcb", "img_align_celeba.zip"),
    "partition": ("0B7EVK8r0v71pY0NSMzRuSXJEVkk", "d32c9cbf5e040fd4025c592c306e6668",
                  "list_eval_partition.txt"),
}
SUBDIR = "celeba"
SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}
HOW_TO_GET = (f"CelebA cannot be downloaded by script: get img_align_celeba.zip (1.4 GB, MD5 "
              f"{FILES['images'][1]}) and list_eval_partition.txt (MD5 {FILES['partition'][1]}) from the "
              f"official page {PROJECT_PAGE} (Google Drive: https://drive.google.com/uc?id=<file id>, ids "
              f"{FILES['images'][0]} and {FILES['partition'][0]}) into <data-dir>/{SUBDIR}/")


def drive_url(what):
    """The Google Drive address of one official file (``"images"`` or ``"partition"``)."""
    return f"https://drive.google.com/uc?id={FILES[what][0]}"


def paths(data_dir=None):
    """``(zip path, partition path)`` found under ``<dir>/celeba/`` of :func:`data_dirs`."""
    return tuple(find_file(f"{SUBDIR}/{FILES[w][2]}", data_dir, how_to_get=HOW_TO_GET)
                 for w in ("images", "partition"))


def verify(data_dir=None):
    """Check both files against the official MD5 sums (reads the whole 1.4 GB zip)."""
    for what, path in zip(("images", "partition"), paths(data_dir)):
        got = file_digest(path)
        if got != FILES[what][1]:
            raise DataError(f"{path}: MD5 {got} is not the official {FILES[what][1]}; the file is damaged "
                            f"or not the official release. {HOW_TO_GET}")


def read_partition(path):
    """``{file name: split id}`` from ``list_eval_partition.txt``; errors name the line."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DataError(f"{path} line {i}: {line.strip()!r} is not '<image>.jpg <0|1|2>'")
            out[parts[0]] = int(parts[1])
    if not out:
        raise DataError(f"{path}: no images listed")
    return out


def decode(jpeg_bytes, size=64, crop=None):
    """One JPEG -> uint8 ``[size, size, 3]``: centre-cropped to a ``crop`` square (default the shorter
    side), then resized to ``size`` (bilinear, antialiased)."""
    from PIL import Image
    img = Image.open(io.BytesIO(jpeg_bytes))
    w0, h0 = img.size
    side0 = min(w0, h0) if crop is None else crop
    if side0 > min(w0, h0):
        raise ValueError(f"crop = {crop}: larger than the {w0}x{h0} image")
    img.draft("RGB", (max(size, w0 * size // side0), max(size, h0 * size // side0)))
    img = img.convert("RGB")
    w, h = img.size
    fx, fy = w / w0, h / h0                          # the draft's scale (about 1, 1/2, 1/4 or 1/8)
    cx, cy, rx, ry = w / 2, h / 2, side0 * fx / 2, side0 * fy / 2
    box = (max(0.0, cx - rx), max(0.0, cy - ry), min(w, cx + rx), min(h, cy + ry))
    return np.asarray(img.resize((size, size), Image.BILINEAR, box=box), np.uint8)


def load(split="train", size=64, data_dir=None, *, crop=None, limit=None, verify_md5=False):
    """uint8 images ``[N, size, size, 3]`` of one split (``train``, ``valid``, ``test`` or ``all``), in
    file-name order; ``limit`` keeps the first N. ``verify_md5`` checks the official sums first."""
    if split not in SPLITS:
        raise ValueError(f"split = {split!r}: choose one of {sorted(SPLITS)}")
    if size < 1:
        raise ValueError(f"size = {size}: must be at least 1")
    if verify_md5:
        verify(data_dir)
    zpath, ppath = paths(data_dir)
    part = read_partition(ppath)
    want = sorted(n for n, s in part.items() if SPLITS[split] is None or s == SPLITS[split])[:limit]
    try:
        zf = zipfile.ZipFile(zpath)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{zpath}: not a readable zip ({e}); download it again. {HOW_TO_GET}") from e
    with zf:
        members = {n.rsplit("/", 1)[-1]: n for n in zf.namelist() if n.lower().endswith(".jpg")}
        missing = [n for n in want if n not in members]
        if missing:
            raise DataError(f"{zpath}: {len(missing)} images of {ppath} are missing from the zip (first: "
                            f"{missing[0]}); the zip is incomplete, download it again")
        out = np.empty((len(want), size, size, 3), np.uint8)
        for i, name in enumerate(want):
            try:
                out[i] = decode(zf.read(members[name]), size, crop)
            except (OSError, SyntaxError) as e:   # Pillow's UnidentifiedImageError is an OSError
                raise DataError(f"{zpath}: {members[name]} is not a readable JPEG ({e})") from e
    return out
