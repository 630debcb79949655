"""horse2zebra, the unpaired photo set of CycleGAN (Zhu et al. 2017), in its official archive format.

The authors publish ``horse2zebra.zip`` at :data:`URL` (about 111 MB). Inside, one folder per split and
domain, each of 256x256 JPEGs: ``horse2zebra/trainA`` (1,067 horses), ``trainB`` (1,334 zebras),
``testA`` (120 horses), ``testB`` (140 zebras). A few photos are greyscale; they are converted to RGB.

Where it is looked for (see :mod:`jaxseq.data.files`): ``<dir>/horse2zebra.zip`` or an extracted
``<dir>/horse2zebra/<split><domain>/*.jpg`` in an explicit ``data_dir``, then ``$JAXSEQ_DATA``, then the
user cache; with ``download=True`` the zip is fetched from :data:`URL` into the cache.

Checksum: :data:`MD5` is ``None`` because the official archive's checksum is not published and could not
be computed here (this machine has no internet, and horse2zebra is **not available** on it). A download
is therefore not verified against a pinned value: its MD5 is logged, and you should check it on the first
download and then pin it (pass ``md5=`` to :func:`load_split`, or set :data:`MD5`). An explicit ``md5``
is enforced both for a download and for a zip found on disk.

JPEGs are decoded with Pillow, which matplotlib (a jaxseq dependency) already requires.

Not available here: the loader is tested on a small zip written in the same layout
(``tests/data/test_horse2zebra.py``); CycleGAN trains on Fashion-MNIST sneakers <-> ankle boots instead.
"""
from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import numpy as np

from jaxseq.data.files import data_dirs, download, cache_dir, md5sum
from jaxseq.errors import DataError

log = logging.getLogger("jaxseq.data")

NAME = "horse2zebra"
URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip"
MD5 = None   # not published and not computable here: verify on first download, then pin (see above)
SPLITS = ("train", "test")
DOMAINS = ("A", "B")   # A: horses, B: zebras
HOW_TO_GET = (f"Download {URL} (or call load_split(..., download=True)) and put horse2zebra.zip, or the "
              f"extracted horse2zebra/ folder, under a data directory")


def _find(data_dir=None, *, download_ok=False, md5=None):
    """The archive or extracted folder: ``(path, "zip" | "dir")``."""
    tried = []
    for d in data_dirs(data_dir):
        z, folder = d / f"{NAME}.zip", d / NAME
        tried += [str(z), str(folder)]
        if z.is_file():
            if md5 is not None and md5sum(z) != md5:
                raise DataError(f"{z}: MD5 {md5sum(z)} is not the expected {md5}; the file is damaged or "
                                f"another version: download it again from {URL}")
            return z, "zip"
        if folder.is_dir() and any((folder / f"{s}{a}").is_dir() for s in SPLITS for a in DOMAINS):
            return folder, "dir"
    if download_ok:
        dest = download(URL, cache_dir() / f"{NAME}.zip", md5=md5)
        if md5 is None:
            log.warning("downloaded %s without a pinned checksum: MD5 %s; verify it and pin it "
                        "(md5=...)", dest, md5sum(dest))
        return dest, "zip"
    raise DataError(f"{NAME}: not found; looked in: {', '.join(tried)}. {HOW_TO_GET}.")


def _decode(data, where, size):
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGB")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.BICUBIC)
            return np.asarray(im, np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{where}: cannot decode the JPEG ({e}); the archive is damaged, download it "
                        f"again from {URL}") from None


def _members(path, kind, split, domain):
    """Sorted ``(name, read())`` pairs of the JPEGs of one folder."""
    folder = f"{split}{domain}"
    if kind == "dir":
        files = sorted(p for p in (path / folder).glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        return [(str(p), p.read_bytes) for p in files]
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path}: not a readable zip archive ({e}); download it again from {URL}") from None
    names = sorted(n for n in zf.namelist()
                   if Path(n).parent.name == folder and Path(n).suffix.lower() in (".jpg", ".jpeg", ".png"))
    return [(f"{path}:{n}", (lambda n=n: zf.read(n))) for n in names]


def load_split(split="train", domain="A", data_dir=None, *, size=None, limit=None, download=False, md5=MD5):
    """uint8 ``[N, H, W, 3]`` photos of ``split`` ("train"/"test") and ``domain`` ("A" horses, "B"
    zebras), in file-name order; ``size`` resizes to ``size`` x ``size`` (bicubic; None keeps 256),
    ``limit`` keeps the first N."""
    if split not in SPLITS or domain not in DOMAINS:
        raise ValueError(f"split {split!r} / domain {domain!r}: choose a split of {SPLITS} and a domain of "
                         f"{DOMAINS}")
    if size is not None and size < 1:
        raise ValueError(f"size = {size}: give a positive side length or None")
    path, kind = _find(data_dir, download_ok=download, md5=md5)
    members = _members(path, kind, split, domain)[:limit]
    if not members:
        raise DataError(f"{path}: no images in {split}{domain}/; the archive is incomplete. {HOW_TO_GET}.")
    imgs = [_decode(read(), where, size) for where, read in members]
    shapes = {im.shape for im in imgs}
    if len(shapes) > 1:
        raise DataError(f"{path} {split}{domain}: images of several sizes {sorted(shapes)}; pass size= to "
                        f"resize them to one")
    return np.stack(imgs)


def load_domains(data_dir=None, *, size=None, limit=None, download=False, md5=MD5):
    """``{"train_a", "train_b", "test_a", "test_b"}`` (the layout :func:`jaxseq.models.cyclegan.train`
    takes), each uint8 ``[N, H, W, 3]``."""
    return {f"{s}_{d.lower()}": load_split(s, d, data_dir, size=size, limit=limit, download=download, md5=md5)
            for s in SPLITS for d in DOMAINS}
