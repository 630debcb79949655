"""Where data lives: directory resolution, checksummed downloads, the user cache.

Data directory resolution (first hit wins): an explicit ``data_dir`` (the scripts' ``--data-dir``; it must
exist, a mistyped one is an error rather than a silent fall-back), then
``$JAXSEQ_DATA``, then the user cache ``~/.cache/jaxseq`` (``$XDG_CACHE_HOME/jaxseq``). Public sets are downloaded into the cache from
their official source and checked against an MD5 sum; data behind a registration (IAM-OnDB) raises an
error telling the user where to put the archives.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
import urllib.request
from pathlib import Path

from jaxseq.errors import DataError
from jaxseq.paths import as_path, is_remote


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxseq"


def data_dirs(data_dir=None) -> list[Path]:
    """Candidate data directories in priority order."""
    out = []
    if data_dir and is_remote(data_dir):
        raise DataError(f"data directory {data_dir}: reading data sets straight from a bucket is not "
                        f"supported; copy the folder to local disk first (e.g. gcloud storage cp -r "
                        f"{data_dir} ./data) and pass that folder")
    if data_dir:
        d = Path(data_dir).expanduser()
        if not d.is_dir():
            raise DataError(f"data directory {d} " + ("is a file, not a folder" if d.exists() else
                                                      "does not exist") + "; give an existing folder")
        out.append(d)
    if os.environ.get("JAXSEQ_DATA"):
        out.append(Path(os.environ["JAXSEQ_DATA"]).expanduser())
    out.append(cache_dir())
    return out


def file_digest(path, algorithm="md5", chunk=1 << 20) -> str:
    """Hex digest of a file read in chunks (``algorithm``: any ``hashlib`` name)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def md5sum(path) -> str:
    return file_digest(path, "md5")


def find_file(relpath, data_dir=None, *, url=None, md5=None, how_to_get=None) -> Path:
    """Return the first existing ``<dir>/<relpath>`` among :func:`data_dirs`.

    If none exists and ``url`` is given, download it into the cache (atomically, checked against ``md5``).
    Otherwise raise :class:`DataError` listing the places searched and ``how_to_get``.
    """
    tried = []
    for d in data_dirs(data_dir):
        p = d / relpath
        tried.append(str(p))
        if p.exists():
            return p
    if url is not None:
        return download(url, cache_dir() / relpath, md5=md5)
    msg = f"data file {relpath!r} not found; looked in: " + ", ".join(tried)
    if how_to_get:
        msg += f". {how_to_get}"
    msg += ". Put it under one of those folders (a data_dir argument, or JAXSEQ_DATA=DIR)."
    raise DataError(msg)


def download(url, dest, *, md5=None) -> Path:
    """Download ``url`` to ``dest`` through a temporary file; nothing half-written is left behind."""
    def fetch(f):
        h = hashlib.md5()
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                for block in iter(lambda: r.read(1 << 20), b""):
                    h.update(block)
                    f.write(block)
        except OSError as e:
            raise DataError(f"could not download {url} to {dest}: {e}. Download it by hand into {dest} "
                            f"(or a data directory given as data_dir or JAXSEQ_DATA).") from e
        if md5 is not None and h.hexdigest() != md5:
            raise DataError(f"checksum mismatch for {url}: got {h.hexdigest()}, expected {md5}")
    return write_atomic(dest, fetch)


def check_output_dir(path) -> Path:
    """Refuse, before any work, an output folder that cannot be made: one under an existing file, or in a
    folder that is not writable. Creates nothing. Returns the path."""
    if is_remote(path):   # a bucket: nothing to probe locally; the filesystem support must exist
        return as_path(path)
    p = Path(path).expanduser()
    if p.exists():
        if not p.is_dir():
            raise ValueError(f"output folder {p} is an existing file; give a folder")
        probe = p
    else:
        probe = p.parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise ValueError(f"output folder {p} cannot be made: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"output folder {p} cannot be written: {probe} is not writable")
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path, data) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, moved into place only
    when complete, so a crash or a full disk never leaves a half-written file. ``data``: str, bytes, or
    a function called with the open binary file (e.g. ``lambda f: fig.savefig(f, format="png")``)."""
    if is_remote(path):  # an object store: one whole-object write is already all-or-nothing
        buf = io.BytesIO()
        if callable(data):
            data(buf)
        else:
            buf.write(data.encode("utf-8") if isinstance(data, str) else data)
        path = as_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())
        return path
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; give the permissions open() would
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def checkpoint_kind(meta) -> str:
    """What a checkpoint holds, from the keys its family stores in the meta: ``"NMT"``, ``"handwriting
    synthesis"``, ``"Sketch-RNN"``, ``"VAE"``, ``"character LM"``, ``"seq2seq"``, ``"Keras character
    seq2seq"``, ``"chatbot"``, ``"names classifier"``/``"names generator"``, or ``"unknown"``."""
    meta = meta if isinstance(meta, dict) else {}
    cfg, model = meta.get("config"), meta.get("model")
    if meta.get("family") == "seq2seq":   # jaxseq.models.seq2seq (it has NMT's vocabularies too)
        return "seq2seq"
    if meta.get("family") == "names":   # jaxseq.models.names: "names classifier" / "names generator"
        return f"names {meta.get('task')}"
    if meta.get("family") in ("keras_char", "chatbot"):   # seq2seq.keras_char, seq2seq.chatbot
        return {"keras_char": "Keras character seq2seq", "chatbot": "chatbot"}[meta["family"]]
    if ("src_vocab" in meta or "subword" in meta) and isinstance(model, dict):   # word or subword NMT
        return "NMT"
    if "vae" in meta:
        return "VAE"
    if model == "sketch_rnn":
        return "Sketch-RNN"
    if isinstance(cfg, dict) and "task" in cfg and "n_mix" in cfg:
        return f"handwriting {cfg['task']}"
    if "charset" in meta and isinstance(model, dict):
        return "character LM"
    return "unknown"


def require_kind(directory, meta, want):
    """Raise a :class:`DataError` naming ``directory`` and what it holds unless its ``meta`` is of kind
    ``want`` (a :func:`checkpoint_kind` name): another family's checkpoint is one clear error, not a
    KeyError or TypeError later."""
    def a(word):
        return ("an " if word[:1] in "AEIOUaeiou" or word.startswith("NMT") else "a ") + word
    kind = checkpoint_kind(meta)
    if kind != want:
        raise DataError(f"{directory} is {a('unrecognised' if kind == 'unknown' else kind)} checkpoint, "
                        f"not {a(want)} one; give {a(want)} checkpoint directory")
