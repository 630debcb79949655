"""Tiny Shakespeare, the classic char-RNN corpus (1.1 MB of plays): the text, its character vocabulary
(a :class:`jaxseq.data.charset.Charset`), a compact ``.npz`` cache of the encoded text, a contiguous
train/validation split and fixed-length windows.

The cache stores ``tokens`` as uint8 indices into ``chars`` (the known characters, sorted) and ``chars``
as one string, so it stays readable without jaxseq; :func:`read_cache` turns the indices into charset ids
(id 0 is the charset's unknown symbol, so id = index + 1).
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from jaxseq.data.charset import Charset
from jaxseq.data.files import find_file, write_atomic
from jaxseq.errors import DataError

RELPATH = "tinyshakespeare/input.txt"
URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
MD5 = "6fb458f1232090904fb40fe944165e91"
MIN_CHARS = 1000   # shorter text cannot fill a training and a validation window


def text_path(data_dir=None, *, download=False) -> Path:
    """``<data dir>/tinyshakespeare/input.txt``; with ``download`` fetched into the cache when absent."""
    return find_file(RELPATH, data_dir, url=URL if download else None, md5=MD5,
                     how_to_get="Get input.txt from the char-rnn repository (data/tinyshakespeare) into "
                                "<data dir>/tinyshakespeare/")


def encode_text(text, charset=None):
    """``(ids int32 [N], charset)``; the charset is built from ``text`` unless given."""
    charset = charset or Charset.build([text])
    return charset.encode(text), charset


def load(data_dir=None, cache=None):
    """``(ids int32 [N], charset)`` of the whole corpus: from the ``cache`` .npz if given, else from the
    text file found in the data directories."""
    if cache:
        return read_cache(cache)
    path = text_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}, line {line}); save it as UTF-8") from e
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror})") from e
    if len(text) < MIN_CHARS:
        raise DataError(f"{path}: only {len(text)} characters; a corpus needs at least {MIN_CHARS} "
                        f"(tiny Shakespeare has 1.1 million)")
    return encode_text(text)


def write_cache(path, ids, charset: Charset) -> Path:
    """Write the encoded corpus as a compact .npz (see the module docstring); returns the path."""
    ids = np.asarray(ids)
    if ids.size and ids.min() < 1:
        raise ValueError(f"cannot cache {int((ids < 1).sum())} unknown-symbol ids; encode known text only")
    buf = io.BytesIO()
    np.savez_compressed(buf, tokens=(ids - 1).astype(np.uint8), chars=np.array("".join(charset.chars[1:])))
    path = Path(path)
    return write_atomic(path if path.suffix == ".npz" else path.with_name(path.name + ".npz"), buf.getvalue())


def read_cache(path):
    """``(ids int32 [N], charset)`` from a .npz written by :func:`write_cache`."""
    path = Path(path)
    try:
        with np.load(path) as z:
            idx, chars = z["tokens"].astype(np.int32), str(z["chars"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a tiny-Shakespeare cache (.npz with 'tokens' and 'chars'): {e}. "
                        f"Write one with jaxseq.data.shakespeare.write_cache.") from e
    if idx.size and idx.max() >= len(chars):
        raise DataError(f"{path}: token {int(idx.max())} is outside its {len(chars)} characters")
    return idx + 1, Charset(chars)


def split(ids, train_fraction=0.9):
    """Contiguous ``(train, validation)`` parts: the first ``train_fraction`` of the corpus, then the rest."""
    n = int(train_fraction * len(ids))
    return ids[:n], ids[n:]


def random_windows(data, step, batch, length, seed=0):
    """``[batch, length]`` windows at seeded random offsets (a function of ``step``, for exact resume)."""
    if len(data) <= length:
        raise ValueError(f"text of {len(data)} characters is too short for windows of {length}")
    rng = np.random.default_rng([seed, int(step)])
    starts = rng.integers(0, len(data) - length, batch)
    return np.stack([data[s:s + length] for s in starts])


def spread_windows(data, n, length):
    """``[n, length]`` windows at evenly spread offsets (no overlaps when the text is long enough)."""
    if len(data) <= length:
        raise ValueError(f"text of {len(data)} characters is too short for windows of {length}")
    starts = np.linspace(0, len(data) - length - 1, n).astype(int)
    return np.stack([data[s:s + length] for s in starts])
