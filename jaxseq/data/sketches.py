"""Sketch-RNN data (Ha & Eck 2017, sec. 2-3): stroke-3/stroke-5 formats, filtering, scaling,
augmentation, padded batches with masks, and the QuickDraw fetch-by-name cache.

Formats
- stroke-3: ``[N, 3]`` rows ``(dx, dy, p)``; ``p = 1`` means the pen is lifted *after* this point.
- stroke-5: ``[Nmax, 5]`` rows ``(dx, dy, p1, p2, p3)``: p1 pen down, p2 pen lifted after this point, p3
  the sketch has ended. Past the end every row is the end token ``(0, 0, 0, 0, 1)``.

A batch holds ``x: [B, Nmax + 1, 5]`` whose first row is the start token ``(0, 0, 1, 0, 0)``; the decoder
reads ``x[:, :-1]`` and predicts ``x[:, 1:]``. ``length: [B]`` counts real points (start token excluded).
"""
from __future__ import annotations

import logging
import os
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy as np

from jaxseq.errors import DataError
from jaxseq.data.batching import batch_indices
from jaxseq.data.files import cache_dir, data_dirs, file_digest, find_file

log = logging.getLogger(__name__)

START = np.array([0, 0, 1, 0, 0], np.float32)
END = np.array([0, 0, 0, 0, 1], np.float32)

# Short names for the sets in the public sketch-rnn-datasets repository (paths under the data dir).
NAMED_SETS = {
    "sheep": "sketch-rnn/aaron_sheep.npz",
    "aaron_sheep": "sketch-rnn/aaron_sheep.npz",
    "kanji": "sketch-rnn/kanji.rdp100.npz",
    "short_kanji": "sketch-rnn/short_kanji.npz",
    "omniglot": "sketch-rnn/omniglot.npz",
}
QUICKDRAW_URL = "https://storage.googleapis.com/quickdraw_dataset/sketchrnn/{category}.npz"
SPLITS = ("train", "valid", "test")


# ----------------------------------------------------------------------------------------- formats
def to_stroke5(s3, max_len):
    """stroke-3 ``[N, 3]`` -> stroke-5 ``[max_len, 5]`` padded with the end token (no start token)."""
    s3 = np.asarray(s3, np.float32)
    n = len(s3)
    if n > max_len:
        raise ValueError(f"sketch of {n} points is longer than max_len={max_len}")
    out = np.tile(END, (max_len, 1))
    out[:n, :2] = s3[:, :2]
    out[:n, 3] = s3[:, 2]
    out[:n, 2] = 1.0 - s3[:, 2]
    out[:n, 4] = 0.0
    return out


def to_stroke3(s5):
    """stroke-5 ``[T, 5]`` -> stroke-3 ``[N, 3]``, cut at the first end-of-sketch row (p3 = 1).

    Works on samples too: the pen state is the arg-max of (p1, p2, p3).
    """
    s5 = np.asarray(s5, np.float32)
    pen = s5[:, 2:5].argmax(-1)
    ends = np.nonzero(pen == 2)[0]
    n = int(ends[0]) if len(ends) else len(s5)
    return np.concatenate([s5[:n, :2], (pen[:n] == 1).astype(np.float32)[:, None]], axis=1)


# ------------------------------------------------------------------------------------------ loading
class _ArraysOnly(pickle.Unpickler):
    """Rebuilds numpy arrays and nothing else: the official sketch-rnn npz files store each split as an
    object array of ``[N, 3]`` arrays, which only a pickle can hold. Any other global (``os.system``,
    ``builtins.exec``, ...) is refused before it can be called."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise _Refused(f"{module}.{name}")
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]      # numpy's own reconstruct function
        return super().find_class(module, name)


class _Refused(Exception):
    pass


def _read_member(zf, member, path):
    """One ``.npy`` of an npz: plain arrays without pickle; object arrays through :class:`_ArraysOnly`."""
    from numpy.lib import format as npy
    with zf.open(member) as f:
        version = npy.read_magic(f)
        shape, fortran, dtype = (npy.read_array_header_1_0(f) if version == (1, 0)
                                 else npy.read_array_header_2_0(f))
        if not dtype.hasobject:
            f.seek(0)
            return npy.read_array(f, allow_pickle=False)
        try:
            arr = _ArraysOnly(f, encoding="latin1").load()
        except _Refused as e:
            raise DataError(f"{path}: refused to load {member}: its pickle calls {e}, which is not part of "
                            f"a numpy array (only arrays are rebuilt, nothing is run). The file may be "
                            f"malicious; do not load it with numpy's allow_pickle") from None
    if not isinstance(arr, np.ndarray) or arr.shape != tuple(shape):
        raise DataError(f"{path}: {member} is not an array of shape {shape}")
    return arr


def read_npz(path) -> dict:
    """``{name: array}`` of an npz without running any code: numeric arrays are read without pickle,
    object arrays (the official sketch-rnn format) by an unpickler that rebuilds numpy arrays only."""
    try:
        with zipfile.ZipFile(path) as zf:
            return {Path(m).stem: _read_member(zf, m, path) for m in zf.namelist() if m.endswith(".npy")}
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, pickle.UnpicklingError, TypeError,
            AttributeError, IndexError, KeyError, zlib.error) as e:
        raise DataError(f"{path}: not a readable npz ({type(e).__name__}: {e}); fetch it again") from None


def _split_arrays(raw, split, path):
    """The sketches of one split: an object array of ``[N, 3]`` arrays (sketch-rnn format) or the
    pickle-free compact form written by :func:`save_npz` (``<split>_points`` + ``<split>_lengths``)."""
    if split in raw:
        arr = raw[split]
        if arr.dtype.hasobject:
            return list(arr)
        if arr.ndim == 3:          # equal-length sketches stored as one numeric block
            return list(arr)
        raise DataError(f"{path}: split {split!r} is a {arr.dtype} array of shape {arr.shape}; a sketch-rnn "
                        f"npz holds an object array of [N, 3] stroke-3 arrays per split")
    if f"{split}_points" in raw and f"{split}_lengths" in raw:
        pts, lengths = raw[f"{split}_points"], raw[f"{split}_lengths"].astype(np.int64)
        if lengths.ndim != 1 or (lengths < 0).any() or lengths.sum() != len(pts):
            raise DataError(f"{path}: {split}_lengths do not add up to the {len(pts)} rows of {split}_points")
        return np.split(pts, np.cumsum(lengths)[:-1]) if len(lengths) else []
    raise DataError(f"{path}: missing split {split!r}; a sketch-rnn npz has {SPLITS}")


def _check_npz(path):
    """Open a stroke-3 npz and check it holds train/valid/test of numeric [N, 3] arrays."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"sketch data file {path} does not exist")
    raw = read_npz(path)
    data = {k: _split_arrays(raw, k, path) for k in SPLITS}
    for split, seqs in data.items():
        for i, s in enumerate(seqs):
            if not isinstance(s, np.ndarray) or s.dtype.hasobject or not (
                    np.issubdtype(s.dtype, np.number) or s.dtype == bool):
                what = s.dtype if isinstance(s, np.ndarray) else type(s).__name__
                raise DataError(f"{path}: {split}[{i}] holds {what}, not numbers; expected [N, 3] stroke-3 "
                                f"offsets")
            if s.ndim != 2 or s.shape[1] != 3:
                raise DataError(f"{path}: {split}[{i}] has shape {s.shape}, expected [N, 3] stroke-3")
    return data


def sha256sum(path) -> str:
    return file_digest(path, "sha256")


def fetch_category(category, data_dir=None, *, url_template=QUICKDRAW_URL) -> Path:
    """Path of ``quickdraw/<category>.npz``: found in a data dir or downloaded into the cache.

    QuickDraw publishes no checksums, so the SHA-256 of the first file we see is recorded beside it
    (``<category>.npz.sha256``) and every later load is checked against it: a file that changed or was
    cut short is reported, not silently trained on. A fresh download that is not a valid sketch npz is
    deleted.
    """
    if not category.replace("_", "").replace(" ", "").replace("-", "").isalnum():
        raise DataError(f"bad QuickDraw category name {category!r}")
    rel = f"quickdraw/{category}.npz"
    in_cache_before = (cache_dir() / rel).exists()
    path = find_file(rel, data_dir, url=url_template.format(category=category.replace(" ", "%20")))
    fresh = path == cache_dir() / rel and not in_cache_before
    sidecar = path.with_name(path.name + ".sha256")
    digest = sha256sum(path)
    if sidecar.exists():
        want = sidecar.read_text().split()[0]
        if digest != want:
            raise DataError(f"{path}: SHA-256 {digest} does not match {want} recorded in {sidecar} at "
                            f"the first download; delete both files to fetch it again")
    try:
        _check_npz(path)
    except DataError:
        if fresh:
            os.remove(path)
        raise
    if not sidecar.exists():
        sidecar.write_text(f"{digest}  {path.name}\n")
    return path


def resolve(name, data_dir=None, category=None) -> Path:
    """A data set by short name (sheep, kanji, ...), by a path to an npz, or a QuickDraw category."""
    if category:
        return fetch_category(category, data_dir)
    if name in NAMED_SETS:
        rel = NAMED_SETS[name]
        for d in data_dirs(data_dir):   # the given dir first; in each, the original file or a compact
            for p in (d / rel, d / f"sketch-rnn/{name}.npz"):   # copy written by save_npz
                if p.exists():
                    return p
        return find_file(rel, data_dir, how_to_get=(
            f"Get {Path(rel).name} from the public sketch-rnn-datasets repository"))
    p = Path(name).expanduser()
    if p.exists():
        return p
    if p.suffix == ".npz" or os.sep in name or "/" in name:
        raise DataError(f"sketch data file {p} does not exist")
    raise DataError(f"unknown data set {name!r}: use one of {sorted(NAMED_SETS)}, a path to a "
                    f"stroke-3 npz, or a QuickDraw category name")


def dataset_name(name, category=None) -> str:
    """A short name for a data set given as :func:`resolve` takes it (``runs/sketch_rnn/<name>``)."""
    if category:
        return category
    return name if name in NAMED_SETS else Path(name).stem


def save_npz(path, data) -> Path:
    """Write ``{split: [stroke-3]}`` as one compressed npz (int16 offsets when every value is whole, else
    float32), e.g. a filtered copy to carry to another machine. Pickle-free: each split is stored as
    ``<split>_points [sum N, 3]`` and ``<split>_lengths``, which :func:`load` reads. Written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, seqs in data.items():
        whole = all(np.array_equal(s, np.round(s)) for s in seqs)
        dt = np.int16 if whole else np.float32
        out[f"{split}_points"] = (np.concatenate([np.asarray(s, dt).reshape(-1, 3) for s in seqs])
                                  if seqs else np.zeros((0, 3), dt))
        out[f"{split}_lengths"] = np.array([len(s) for s in seqs], np.int64)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.npz")
    try:
        np.savez_compressed(tmp, **out)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load(path, max_len=250, limit=1000.0):
    """Splits of stroke-3 float32 arrays with at most ``max_len`` points (paper: 250).

    Offsets are clipped to ``[-limit, limit]`` (a few QuickDraw sketches hold huge jumps). Sketches with
    a NaN or infinite value are dropped with a warning naming the split and their indices (one would turn
    the data scale into NaN); a split left with no usable sketch is an error. Returns
    ``{split: [array [N_i, 3]]}``.
    """
    data = _check_npz(path)
    out = {}
    for split, seqs in data.items():
        bad = [i for i, s in enumerate(seqs) if not np.isfinite(np.asarray(s, np.float64)).all()]
        if bad:
            log.warning("%s: dropped %d %s sketch(es) with non-finite values (NaN/inf): index %s", path,
                        len(bad), split, ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else ""))
        skip = set(bad)
        keep = [np.clip(np.asarray(s, np.float32), -limit, limit) for i, s in enumerate(seqs)
                if i not in skip and 0 < len(s) <= max_len]
        if not keep:
            why = (f" ({len(bad)} of {len(seqs)} have non-finite values, e.g. {split}[{bad[0]}])"
                   if bad else "")
            raise DataError(f"{path}: no {split} sketch has 1..{max_len} finite points{why}; use a larger "
                            f"max_len or fix the file")
        for s in keep:
            s[:, 2] = (s[:, 2] > 0).astype(np.float32)
        out[split] = keep
    return out


def scale_factor(seqs) -> float:
    """Std of all (dx, dy) offsets of the training set (the paper normalises by it)."""
    return float(np.std(np.concatenate([s[:, :2] for s in seqs]).ravel()))


def normalise(seqs, scale):
    out = []
    for s in seqs:
        s = s.copy()
        s[:, :2] /= scale
        out.append(s)
    return out


# ------------------------------------------------------------------------------------ augmentation
def random_scale(rng, s3, lo=0.9, hi=1.1):
    """Stretch x and y by independent factors in [lo, hi] (paper sec. 3.3)."""
    s = s3.copy()
    s[:, :2] *= rng.uniform(lo, hi, size=2).astype(np.float32)
    return s


def drop_points(rng, s3, prob):
    """"Augment stroke": merge a point into its predecessor with probability ``prob``.

    Only points in the middle of a stroke are dropped (the point before it and itself are pen-down and
    at least three points of the stroke precede it), so every stroke keeps its ends; the merged offsets
    are summed so the drawing's shape is preserved.
    """
    if prob <= 0 or len(s3) < 4:
        return s3
    out = [s3[0].copy()]
    run = 0
    for i in range(1, len(s3)):
        pt = s3[i]
        prev_down = s3[i - 1, 2] == 0
        run = run + 1 if (prev_down and pt[2] == 0) else 0
        if run > 2 and out[-1][2] == 0 and rng.random() < prob:
            out[-1][:2] += pt[:2]
        else:
            out.append(pt.copy())
    return np.stack(out)


# ------------------------------------------------------------------------------------------ batches
def make_batch(seqs, max_len):
    """List of stroke-3 -> ``{"x": [B, max_len + 1, 5], "length": [B]}`` (start token prepended)."""
    x = np.stack([np.concatenate([START[None], to_stroke5(s, max_len)]) for s in seqs])
    return {"x": x.astype(np.float32), "length": np.array([len(s) for s in seqs], np.int32)}


def mask_of(length, max_len):
    """``[B, max_len]`` float mask, 1 on the real points of each target sequence."""
    return (np.arange(max_len)[None, :] < np.asarray(length)[:, None]).astype(np.float32)


class BatchMaker:
    """``batch_fn(step)`` for :func:`jaxseq.training.loop.fit`: seeded epochs, augmentation, scaled
    offsets.

    ``dequant``: width (in data units) of uniform noise added to every offset after augmentation.
    Data sets stored as integer offsets (aaron_sheep) put all their probability on a lattice; a mixture
    density can then win likelihood with very narrow components on lattice points instead of learning
    shapes. Noise of width 1 spreads each integer over its unit cell (the usual dequantisation of
    discrete data); 0 turns it off.
    """

    def __init__(self, seqs, scale, max_len, batch_size, *, seed=0, augment=True,
                 scale_range=(0.9, 1.1), drop_prob=0.1, dequant=0.0):
        self.seqs, self.scale, self.max_len, self.bs = seqs, float(scale), max_len, batch_size
        self.seed, self.augment, self.scale_range, self.drop_prob = seed, augment, scale_range, drop_prob
        self.dequant = float(dequant)

    def __call__(self, step):
        idx = batch_indices(step, len(self.seqs), self.bs, self.seed)
        rng = np.random.default_rng([self.seed, 1, int(step)])
        out = []
        for i in idx:
            s = self.seqs[i]
            if self.augment:
                s = drop_points(rng, random_scale(rng, s, *self.scale_range), self.drop_prob)
            s = s.astype(np.float32)   # a copy, whatever the stored type
            if self.dequant > 0:
                s[:, :2] += rng.uniform(-0.5, 0.5, (len(s), 2)) * self.dequant
            s[:, :2] /= self.scale
            out.append(s)
        return make_batch(out, self.max_len)


def eval_batches(seqs, scale, max_len, batch_size):
    """Fixed, un-augmented batches covering ``seqs`` (the last one padded by repeating sketch 0 and
    weighted out with ``weight``)."""
    norm = normalise(seqs, scale)
    for start in range(0, len(norm), batch_size):
        chunk = norm[start:start + batch_size]
        w = np.zeros(batch_size, np.float32)
        w[:len(chunk)] = 1.0
        chunk = chunk + [norm[0]] * (batch_size - len(chunk))
        b = make_batch(chunk, max_len)
        b["weight"] = w
        yield b
