"""IAM On-Line Handwriting Database (IAM-OnDB) lines as normalised stroke-3 sequences with their text.

Reads the two official archives directly (streamed with ``tarfile``, nothing extracted to disk):

* ``lineStrokes-all.tar.gz``: ``lineStrokes/a01/a01-000/a01-000u-01.xml``, one XML per handwritten line,
  ``<StrokeSet><Stroke><Point x= y= time=/>``; y grows downwards (whiteboard sensor at the top left).
* ``ascii-all.tar.gz``: ``ascii/a01/a01-000/a01-000u.txt``, one per form; its ``CSR:`` section holds the
  corrected transcription, one non-empty text line per stroke file, in order (``-01`` is the first).
  On the shipped data 1728 of 1730 forms have exactly as many CSR lines as stroke files; a form where the
  counts differ cannot be aligned line by line and is dropped whole (reason ``line count mismatch``).

Writers. The archives carry no writer ids (those live in the separate ``original-xml`` archive), and the
form id prefix (``a01-000``) names the *text*, which several writers copied (``a01-020w/x/z``). The point
time stamps do identify recording sessions: on most forms they are an absolute clock (> 10^6 s), and
sorting forms by time gives runs of back-to-back forms separated by long breaks, whose sizes are multiples
of eight (each IAM-OnDB writer wrote eight forms). A *session* is a run of forms with gaps under
``session_gap`` seconds; it holds whole writers, so splitting by session is writer-disjoint. Forms on a
session-relative clock (< 10^6 s; about 160 forms) and sessions of fewer than 8 forms cannot be grouped
safely, so they always go to training and the validation set is drawn from the remaining sessions only.

Preprocessing (settings stored in the cache and in ``IamLines.info``): per stroke, keep every ``stride``-th
point plus the stroke's last point (so eos survives), optionally Ramer-Douglas-Peucker with ``rdp_eps``
sensor units; pen-down offsets are clipped to +-``clip`` sensor units (sensor glitches: on the real data
only ~100 moves exceed 400 while the median is 36) and pen-up moves to +-``clip_up`` (going back to dot an
i or cross a t is legitimately long: 1% of pen-up moves exceed 590, so a tight clip would misplace them;
1500 only tames the few extreme ones); the first row is ``(0, 0, eos)``; all offsets are divided by one
``scale``, the standard deviation of the training offsets (dx and dy pooled, so the aspect ratio is kept).
The cache stores the integer offsets (int16) plus the scale, so it is exact and small.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import logging
import re
import tarfile
import time
import xml.etree.ElementTree as ET
import xml.parsers.expat
import zipfile
import zlib
from pathlib import Path

import numpy as np

from jaxseq.errors import DataError
from jaxseq.data.batching import pad_batch, split_indices
from jaxseq.data.files import find_file

STROKES_ARCHIVE = "lineStrokes-all.tar.gz"
ASCII_ARCHIVE = "ascii-all.tar.gz"
DEFAULT_CACHE = Path(".cache/iam/iam_lines.npz")
HOW_TO_GET = ("IAM-OnDB needs a (free, non-commercial) registration at the University of Bern's IAM On-Line "
              "Handwriting Database site; download lineStrokes-all.tar.gz and ascii-all.tar.gz and put both "
              "in <data-dir>/iam-ondb/")
ABS_CLOCK_MIN = 1e6          # time stamps above this are an absolute clock shared across forms
FORMS_PER_WRITER = 8
_LINE_RE = re.compile(r"([a-z]\d\d-\d\d\d[a-z]?)-(\d\d)\.xml$")
log = logging.getLogger(__name__)
MAX_COORD = 10 ** 9          # sensor units; real coordinates are below 10^5
DEFAULTS = dict(stride=2, rdp_eps=0.0, clip=400, clip_up=1500, min_points=10, valid_fraction=0.05, seed=0,
                session_gap=600.0)


@dataclasses.dataclass
class IamLines:
    """One entry per line."""
    strokes: list          # np.float32 [T_i, 3] normalised offsets (dx, dy, eos)
    texts: list            # str
    writers: list          # str: writer proxy (recording session id, see module docstring)
    ids: list              # str, e.g. "a01-000u-01"
    is_valid: np.ndarray   # bool [N], True for the validation split
    scale: float           # offsets were divided by this
    info: dict             # preprocessing settings + drop counts

    def __len__(self):
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.strokes], dtype=np.int64)

    @property
    def train_idx(self) -> np.ndarray:
        return np.flatnonzero(~self.is_valid)

    @property
    def valid_idx(self) -> np.ndarray:
        return np.flatnonzero(self.is_valid)


# --------------------------------------------------------------------------------------- parsing
_POINT_RE = re.compile(rb'<Point\b[^>]*?\bx="(-?\d+)"[^>]*?\by="(-?\d+)"')
_TIME_RE = re.compile(rb'<Point\b[^>]*?\btime="([^"]*)"')


def parse_line_xml(data: bytes, name: str = "<xml>"):
    """One line XML -> (list of int64 [n, 2] point arrays, one per stroke, (t_first, t_last) or None).

    Raises :class:`DataError` naming ``name`` on malformed XML or a point without integer x/y. Strokes
    with no points are skipped (an empty list means "no strokes"). Well-formedness is checked by expat;
    the points are then read with a regex (4x faster than building an ElementTree), falling back to
    ElementTree for a stroke whose points the regex does not account for (other attribute order).
    """
    try:
        xml.parsers.expat.ParserCreate().Parse(data, True)
    except xml.parsers.expat.ExpatError as e:
        raise DataError(f"{name}: malformed XML ({e})") from e
    strokes = []
    for chunk in data.split(b"<Stroke")[1:]:
        n = chunk.count(b"<Point")
        if n == 0:
            continue
        found = _POINT_RE.findall(chunk)
        if len(found) != n:
            return _parse_line_et(data, name)
        strokes.append(_int_points(found, name))
    first, last = _TIME_RE.search(data), _TIME_RE.search(data, data.rfind(b"<Point"))
    try:
        span = (float(first.group(1)), float(last.group(1))) if first and last else None
    except ValueError:
        span = None
    return strokes, span


class CoordinateError(DataError):
    """A point coordinate that is not an integer of a sensible size (the line is dropped, not the build)."""


def _int_points(pairs, name):
    """``[(x, y), ...]`` (bytes or str) -> int64 ``[n, 2]``; coordinates must be integers within
    +-:data:`MAX_COORD` (a glitch like 1e23 would overflow the offsets)."""
    try:
        xy = np.array(pairs, dtype=np.int64)
    except OverflowError:
        raise CoordinateError(f"{name}: a coordinate does not fit 64 bits") from None
    except ValueError as e:
        raise DataError(f"{name}: a <Point> has a non-integer x/y ({e})") from e
    if len(xy) and np.abs(xy).max() > MAX_COORD:
        raise CoordinateError(f"{name}: a coordinate of {np.abs(xy).max()} is beyond +-{MAX_COORD}")
    return xy


def _parse_line_et(data, name):
    root = ET.fromstring(data)
    strokes, times = [], []
    for s in root.iter("Stroke"):
        pts = s.findall("Point")
        if not pts:
            continue
        try:
            xy = [(p.attrib["x"], p.attrib["y"]) for p in pts]
        except KeyError as e:
            raise DataError(f"{name}: a <Point> has a missing x/y ({e})") from e
        strokes.append(_int_points(xy, name))
        for p in (pts[0], pts[-1]):
            try:
                times.append(float(p.attrib["time"]))
            except (KeyError, ValueError):
                pass
    return strokes, ((min(times), max(times)) if times else None)


def parse_csr(text: str, name: str = "<ascii>"):
    """Form transcription -> list of non-empty CSR lines (stripped). Raises DataError if no CSR section."""
    if "CSR:" not in text:
        raise DataError(f"{name}: no 'CSR:' section")
    body = text.split("CSR:", 1)[1]
    return [ln.strip() for ln in body.splitlines() if ln.strip()]


def _open_tar(path):
    try:
        return tarfile.open(path, "r|gz")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a readable .tar.gz archive ({e}); re-download it. {HOW_TO_GET}") from e


def _iter_tar(path, suffix):
    """Yield (member name, bytes) of regular files ending in ``suffix``; corrupt archives -> DataError."""
    tf = _open_tar(path)
    try:
        for m in tf:
            if m.isfile() and m.name.endswith(suffix):
                yield m.name, tf.extractfile(m).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: archive is truncated or corrupt ({e}); re-download it. {HOW_TO_GET}") from e
    finally:
        tf.close()


def read_ascii(path):
    """ascii archive -> {form id: list of CSR lines or a DataError describing why there are none}."""
    out = {}
    for name, raw in _iter_tar(path, ".txt"):
        form = Path(name).stem
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        try:
            out[form] = parse_csr(text, f"{path}:{name}")
        except DataError as e:
            out[form] = e
    if not out:
        raise DataError(f"{path}: no ascii/*.txt transcriptions inside; is this {ASCII_ARCHIVE}? {HOW_TO_GET}")
    return out


# ---------------------------------------------------------------------------------- downsampling
def rdp_mask(points, eps):
    """Ramer-Douglas-Peucker: bool mask [n] of the points kept; endpoints always kept.

    Iterative (explicit stack) so long strokes cannot hit the recursion limit.
    """
    pts = np.asarray(points, np.float64)
    n = len(pts)
    keep = np.zeros(n, bool)
    if n == 0:
        return keep
    keep[0] = keep[-1] = True
    if eps <= 0 or n < 3:
        keep[:] = True
        return keep
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = pts[b] - pts[a]
        rel = pts[a + 1:b] - pts[a]
        norm = np.hypot(*seg)
        if norm == 0:
            d = np.hypot(rel[:, 0], rel[:, 1])
        else:
            d = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm
        i = int(np.argmax(d))
        if d[i] > eps:
            m = a + 1 + i
            keep[m] = True
            stack += [(a, m), (m, b)]
    return keep


def downsample_stroke(xy, stride=1, rdp_eps=0.0):
    """xy: [n, 2] one stroke -> subset of its points (first and last always kept)."""
    if stride > 1 and len(xy) > 2:
        idx = np.arange(0, len(xy), stride)
        if idx[-1] != len(xy) - 1:
            idx = np.append(idx, len(xy) - 1)
        xy = xy[idx]
    if rdp_eps > 0:
        xy = xy[rdp_mask(xy, rdp_eps)]
    return xy


def strokes_to_offsets(strokes, *, stride=1, rdp_eps=0.0, clip=None, clip_up=None):
    """List of absolute stroke point arrays -> (int offsets [T, 2], eos uint8 [T], (n_down, n_up) clipped).

    Row 0 is ``(0, 0)``: a line is position-free, so it starts at the origin. ``clip`` bounds |dx|, |dy|
    of pen-down moves, ``clip_up`` of pen-up moves (into a stroke's first point); None/0 = no clip.
    """
    kept = [downsample_stroke(s, stride, rdp_eps) for s in strokes]
    pts = np.concatenate(kept)
    eos = np.zeros(len(pts), np.uint8)
    eos[np.cumsum([len(k) for k in kept]) - 1] = 1
    d = np.diff(pts, axis=0, prepend=pts[:1])
    up = np.concatenate([[False], eos[:-1] == 1])
    counts = []
    for lim, rows in ((clip, ~up), (clip_up, up)):
        if lim:
            big = rows & (np.abs(d) > lim).any(1)
            counts.append(int(big.sum()))
            d[rows] = np.clip(d[rows], -lim, lim)
        else:
            counts.append(0)
    return d, eos, tuple(counts)


# ---------------------------------------------------------------------------------- writer split
def infer_sessions(form_spans, gap=600.0):
    """{form: (t0, t1) or None} -> {form: session id}. See the module docstring.

    Forms on the absolute clock are sorted by start time and chained while the next form starts less than
    ``gap`` seconds after the previous one ended. Other forms get their own id ``form:<id>`` and are not
    eligible for validation; nor are sessions of fewer than 8 forms. Returns ``(session_of, eligible set)``.
    """
    absolute = sorted((f for f, s in form_spans.items() if s is not None and s[0] >= ABS_CLOCK_MIN),
                      key=lambda f: form_spans[f][0])
    session_of, members = {}, collections.defaultdict(list)
    k, prev_end = -1, -np.inf
    for f in absolute:
        t0, t1 = form_spans[f]
        if t0 - prev_end >= gap:         # a long break: a new session starts
            k += 1
        prev_end = max(prev_end, t1)
        session_of[f] = f"s{k:03d}"
        members[session_of[f]].append(f)
    for f in form_spans:
        session_of.setdefault(f, f"form:{f}")
    eligible = {s for s, fs in members.items() if len(fs) >= FORMS_PER_WRITER}
    return session_of, eligible


def writer_split(writers, eligible, valid_fraction=0.05, seed=0):
    """Bool [N] validation mask: whole writer groups from ``eligible``, seeded order, until the fraction
    of lines is reached (at least one group when the fraction is > 0 and any group is eligible)."""
    writers = np.asarray(writers)
    is_valid = np.zeros(len(writers), bool)
    if valid_fraction <= 0:
        return is_valid
    groups = sorted(set(writers.tolist()) & set(eligible))
    order = np.random.default_rng(seed).permutation(len(groups))
    target = valid_fraction * len(writers)
    for i in order:
        if is_valid.sum() >= target:
            break
        is_valid |= writers == groups[i]
    return is_valid


# ------------------------------------------------------------------------------------------ build
def find_archives(data_dir=None):
    """Paths of the two archives: ``<dir>/iam-ondb/<name>`` (or ``<dir>/<name>``) for each data dir."""
    out = []
    for name in (STROKES_ARCHIVE, ASCII_ARCHIVE):
        try:
            out.append(find_file(f"iam-ondb/{name}", data_dir, how_to_get=HOW_TO_GET))
        except DataError:
            if data_dir is not None and (Path(data_dir) / name).exists():
                out.append(Path(data_dir) / name)
            else:
                raise
    return out


def parse_archives(strokes_tar, ascii_tar, *, stride=2, rdp_eps=0.0, clip=400, clip_up=1500, min_points=10,
                   progress=True, max_lines=None):
    """Stream both archives -> (records, drop counter, notes). A record is
    ``dict(id, form, text, offsets int [T,2], eos [T], span)``. Per-line problems are counted, not raised.
    ``max_lines`` stops after that many stroke files (quick looks; the last form is then usually
    incomplete and dropped as a count mismatch).
    """
    texts = read_ascii(ascii_tar)
    drops = collections.Counter()
    notes = collections.Counter()
    examples = collections.defaultdict(list)      # reason -> a few line ids, for the report
    n_files = collections.Counter()               # every stroke file of a form, usable or not
    by_form = collections.defaultdict(dict)

    def drop(reason, ids):
        drops[reason] += len(ids)
        examples[reason] += list(ids)[:3 - len(examples[reason])]

    bar = _bar(progress, desc="IAM-OnDB lines", unit="line", total=12195)
    n_seen = 0
    for name, raw in _iter_tar(strokes_tar, ".xml"):
        m = _LINE_RE.search(name)
        if m is None:
            drops["unrecognised file name"] += 1
            continue
        if max_lines is not None and n_seen >= max_lines:
            break
        n_seen += 1
        bar.update(1)
        form, num = m.group(1), int(m.group(2))
        n_files[form] += 1
        try:
            strokes, span = parse_line_xml(raw, f"{strokes_tar}:{name}")
        except CoordinateError:
            drop("coordinate out of range", [f"{form}-{num:02d}"])
            continue
        except DataError:
            drop("malformed XML", [f"{form}-{num:02d}"])
            continue
        if not strokes:
            drop("empty stroke set", [f"{form}-{num:02d}"])
            continue
        d, eos, (n_down, n_up) = strokes_to_offsets(strokes, stride=stride, rdp_eps=rdp_eps, clip=clip,
                                                    clip_up=clip_up)
        notes["pen-down offsets clipped"] += n_down
        notes["pen-up offsets clipped"] += n_up
        by_form[form][num] = dict(offsets=d, eos=eos, span=span)
    bar.close()
    if n_seen == 0:
        raise DataError(f"{strokes_tar}: no lineStrokes/*.xml files inside; is this {STROKES_ARCHIVE}? "
                        f"{HOW_TO_GET}")
    records = []
    for form in sorted(set(by_form) | set(n_files)):
        lines = by_form.get(form, {})
        ids = [f"{form}-{num:02d}" for num in sorted(lines)]
        t = texts.get(form)
        if t is None:
            drop("no transcription file", ids)
            continue
        if isinstance(t, DataError):
            drop("transcription without CSR section", ids)
            continue
        if len(t) != n_files[form]:
            # cannot align text and stroke lines one to one (e.g. one text line written over two lines)
            drop("text/stroke line count mismatch in form", ids)
            notes[f"form {form}: {len(t)} text lines vs {n_files[form]} stroke files"] += 1
            continue
        for num in sorted(lines):
            r = lines[num]
            if len(r["offsets"]) < min_points:
                drop(f"fewer than {min_points} points", [f"{form}-{num:02d}"])
                continue
            records.append(dict(id=f"{form}-{num:02d}", form=form, text=t[num - 1], **r))
        # text lines whose stroke file is absent, malformed or empty
        missing = [i for i in range(1, len(t) + 1) if i not in lines]
        notes["text lines without usable strokes"] += len(missing)
    notes["transcriptions without any stroke file"] = sum(1 for f in texts if f not in n_files)
    notes["drop examples"] = dict(examples)
    return records, drops, notes


def _bar(progress, **kw):
    class _Null:
        def update(self, n=1):
            pass

        def close(self):
            pass
    if not progress:
        return _Null()
    try:
        from tqdm import tqdm
    except ImportError:          # tqdm is optional on the GPU box
        return _Null()
    return tqdm(**kw)


def build_cache(data_dir=None, out_path=None, *, stride=DEFAULTS["stride"], rdp_eps=DEFAULTS["rdp_eps"],
                clip=DEFAULTS["clip"], clip_up=DEFAULTS["clip_up"], min_points=DEFAULTS["min_points"],
                valid_fraction=DEFAULTS["valid_fraction"], seed=DEFAULTS["seed"],
                session_gap=DEFAULTS["session_gap"], progress=True, archives=None) -> Path:
    """Parse the archives, preprocess, split, and write one compressed ``.npz``. Returns its path.

    ``archives``: optional ``(lineStrokes tar, ascii tar)`` paths overriding the data-dir lookup.
    """
    t_start = time.time()
    strokes_tar, ascii_tar = archives if archives is not None else find_archives(data_dir)
    records, drops, notes = parse_archives(strokes_tar, ascii_tar, stride=stride, rdp_eps=rdp_eps,
                                           clip=clip, clip_up=clip_up, min_points=min_points,
                                           progress=progress)
    if not records:
        raise DataError(f"{strokes_tar}: no usable lines (drops: {dict(drops)})")
    spans = {}
    for r in records:
        s = r["span"]
        if s is None:
            spans.setdefault(r["form"], None)
            continue
        old = spans.get(r["form"])
        spans[r["form"]] = s if old is None else (min(old[0], s[0]), max(old[1], s[1]))
    session_of, eligible = infer_sessions(spans, session_gap)
    writers = [session_of[r["form"]] for r in records]
    is_valid = writer_split(writers, eligible, valid_fraction, seed)
    train_d = np.concatenate([r["offsets"] for r, v in zip(records, is_valid) if not v]).astype(np.float64)
    scale = float(train_d.std())
    lengths = np.array([len(r["offsets"]) for r in records], np.int64)
    offsets = np.concatenate([r["offsets"] for r in records])
    if np.abs(offsets).max() > np.iinfo(np.int16).max:
        raise DataError(f"offsets up to {np.abs(offsets).max()} do not fit int16; set a clip")
    info = dict(settings=dict(stride=stride, rdp_eps=rdp_eps, clip=clip, clip_up=clip_up, min_points=min_points,
                              valid_fraction=valid_fraction, seed=seed, session_gap=session_gap),
                archives=[str(strokes_tar), str(ascii_tar)], n_lines=len(records),
                n_train=int((~is_valid).sum()), n_valid=int(is_valid.sum()),
                n_writer_groups=len(set(writers)), n_eligible_groups=len(eligible),
                drops=dict(drops), notes=dict(notes), y_axis="down", scale_is="std of train offsets",
                build_seconds=round(time.time() - t_start, 1))
    out = Path(out_path) if out_path is not None else DEFAULT_CACHE
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(
        tmp, offsets=offsets.astype(np.int16), eos=np.concatenate([r["eos"] for r in records]),
        lengths=lengths, texts=np.array("\n".join(r["text"] for r in records)),
        ids=np.array([r["id"] for r in records]), writers=np.array(writers), is_valid=is_valid,
        scale=np.float64(scale), info=np.array(json.dumps(info)))
    tmp.replace(out)
    return out


def load_cache(path) -> IamLines:
    """Read a cache written by :func:`build_cache`."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: IAM-OnDB cache not found; build it first from the archives "
                        f"(jaxseq.data.iam.build_cache(data_dir, {str(path)!r}))")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a valid IAM-OnDB cache (not an npz/zip file: truncated or something "
                        f"else); delete it and rebuild")
    try:
        z = np.load(path, allow_pickle=False)
        offsets, eos, lengths = z["offsets"], z["eos"], z["lengths"]
        scale, info = float(z["scale"]), json.loads(str(z["info"]))
        texts = str(z["texts"]).split("\n")
        ids, writers, is_valid = z["ids"].tolist(), z["writers"].tolist(), z["is_valid"].astype(bool)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"{path}: not a valid IAM-OnDB cache ({type(e).__name__}: {e}); delete it and "
                        f"rebuild") from None
    info["cache"] = str(path)
    if not (len(texts) == len(ids) == len(lengths) == len(is_valid)) or lengths.sum() != len(offsets):
        raise DataError(f"{path}: inconsistent cache (array sizes disagree); delete it and rebuild")
    rows = np.concatenate([offsets.astype(np.float32) / np.float32(scale), eos[:, None].astype(np.float32)], 1)
    strokes = np.split(rows, np.cumsum(lengths)[:-1])
    return IamLines(strokes=strokes, texts=texts, writers=writers, ids=ids, is_valid=is_valid,
                    scale=scale, info=info)


def load(data_dir=None, cache_path=None, *, progress=True, **prep) -> IamLines:
    """Load the cache, building it first if it is missing or was built with other ``prep`` settings."""
    unknown = set(prep) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown preprocessing option(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    path = Path(cache_path) if cache_path is not None else DEFAULT_CACHE
    if path.exists():
        lines = load_cache(path)
        have = lines.info.get("settings", {})
        if all(have.get(k) == v for k, v in prep.items()):
            return lines
        log.info("%s: built with %s, rebuilding for %s", path, have, prep)
    settings = {**DEFAULTS, **prep}
    build_cache(data_dir, path, progress=progress, **settings)
    return load_cache(path)


# ---------------------------------------------------------------------------------------- batches
def batches(lines: IamLines, idx, max_len, *, encode=None, max_text_len=None):
    """Padded batch of lines ``idx``: ``strokes [B, T, 3]`` f32, ``mask [B, T]`` f32 (T = max_len).

    A line longer than ``max_len`` is an error naming it (filter with ``lines.lengths`` first). With
    ``encode`` (str -> int sequence, e.g. the charset's) the dict also holds ``text [B, U]`` int32 and
    ``text_mask [B, U]`` f32 (U = ``max_text_len`` or the longest text in the batch).
    """
    idx = np.asarray(idx)
    for i in idx:
        if len(lines.strokes[i]) > max_len:
            raise ValueError(f"line {lines.ids[i]} has {len(lines.strokes[i])} points > max_len={max_len}")
    x, mask = pad_batch([lines.strokes[i] for i in idx], max_len)
    out = dict(strokes=x, mask=mask)
    if encode is not None:
        codes = [np.asarray(encode(lines.texts[i]), np.int32) for i in idx]
        t, tm = pad_batch([c[:, None] for c in codes], max_text_len, dtype=np.int32)
        out.update(text=t[..., 0], text_mask=tm)
    return out


def bucket_batch_fn(lines: IamLines, idx, batch_size, boundaries, *, seed=0, encode=None,
                    max_text_len=None):
    """``batch_fn(step)`` for :func:`jaxseq.training.loop.fit` with length buckets (static T per bucket).

    Lines of ``idx`` longer than ``boundaries[-1]`` are left out. Each step draws a bucket with probability
    proportional to its size, then a seeded batch from it (:func:`jaxseq.data.batch_indices`), padded to
    the bucket's boundary: few distinct shapes, little padding. Deterministic in (seed, step).
    """
    from jaxseq.data.batching import batch_indices, length_buckets

    idx = np.asarray(idx)
    L = lines.lengths[idx]
    idx = idx[L <= boundaries[-1]]
    b = length_buckets(lines.lengths[idx], boundaries)
    pools = [idx[b == k] for k in range(len(boundaries))]
    live = [k for k, p in enumerate(pools) if len(p) >= batch_size]
    if not live:
        raise ValueError(f"no length bucket holds {batch_size} lines (bucket sizes {[len(p) for p in pools]})")
    probs = np.array([len(pools[k]) for k in live], np.float64)
    probs /= probs.sum()

    def batch_fn(step):
        k = live[np.random.default_rng([seed, int(step), 7]).choice(len(live), p=probs)]
        sel = pools[k][batch_indices(step, len(pools[k]), batch_size, seed + k)]
        return batches(lines, sel, boundaries[k], encode=encode, max_text_len=max_text_len)

    return batch_fn


# ----------------------------------------------------------------------------------------- report
def report(lines: IamLines, path=None) -> str:
    L = lines.lengths
    tl = np.array([len(t) for t in lines.texts])
    info = lines.info
    s = [f"IAM-OnDB lines: {len(lines)} kept ({info['n_train']} train, {info['n_valid']} valid; "
         f"{info['n_writer_groups']} writer groups, {info['n_eligible_groups']} eligible for validation)"]
    s.append("dropped: " + (", ".join(f"{k}: {v}" for k, v in sorted(info["drops"].items())) or "none"))
    s.append("notes: " + (", ".join(f"{k}: {v}" for k, v in sorted(info["notes"].items())) or "none"))
    s.append(f"settings: {info['settings']}; scale (offsets divided by) = {lines.scale:.3f} sensor units")
    pct = np.percentile(L, [0, 5, 50, 95, 100]).astype(int).tolist()
    s.append(f"points per line: mean {L.mean():.0f}, min/5%/median/95%/max {pct}")
    s.append(f"characters per line: mean {tl.mean():.1f}, max {tl.max()}; points per character "
             f"{L.sum() / tl.sum():.1f}")
    if path is not None:
        s.append(f"cache: {path} ({Path(path).stat().st_size / 2**20:.2f} MiB), "
                 f"built in {info.get('build_seconds', '?')} s")
    return "\n".join(s)


# -------------------------------------------------------------------------------------- synthetic
def synthetic_lines(n, seed=0) -> IamLines:
    """``n`` random 'handwritten' lines over the alphabet ``"abcde "`` (each character a short wiggle,
    then a pen lift), 20% validation: smoke tests without the data set."""
    rng = np.random.default_rng(seed)
    alphabet = "abcde "
    strokes, texts = [], []
    for _ in range(n):
        text = "".join(rng.choice(list(alphabet), size=rng.integers(2, 6)))
        pts = []
        for ch in text:
            k = alphabet.index(ch)
            t = np.linspace(0, 2 * np.pi, 6)
            seg = np.stack([0.3 + 0.1 * np.cos(t * (k + 1)), 0.4 * np.sin(t + k), np.zeros(6)], -1)
            seg[-1, 2] = 1.0
            pts.append(seg + rng.normal(0, 0.02, seg.shape) * [1, 1, 0])
        strokes.append(np.concatenate(pts).astype(np.float32))
        texts.append(text)
    valid = np.zeros(n, bool)
    valid[split_indices(n, [0.8, 0.2], seed)[1]] = True
    return IamLines(strokes=strokes, texts=texts, writers=[f"w{i % 5}" for i in range(n)],
                    ids=[f"synthetic-{i}" for i in range(n)], is_valid=valid, scale=1.0,
                    info={"synthetic": True, "seed": seed})
