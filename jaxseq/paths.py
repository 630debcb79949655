"""Paths that may be local or in a bucket (``gs://bucket/run``), shared by the library and the scripts.

``as_path(p)`` keeps a URI a URI (an :class:`etils.epath.Path`, the path type Orbax itself uses) and
gives a local path exactly as before (a :class:`pathlib.Path`, ``~`` expanded). ``file:///x`` is the
local path ``/x``; ``gs:/b/run`` (a URI squashed by ``pathlib.Path``) is read as ``gs://b/run``. A
bucket path needs its filesystem package; without it the first use raises one
:class:`~jaxseq.errors.DataError` naming the path and the package to install.
"""
from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from jaxseq.errors import DataError

# scheme -> (python modules, any one of which gives etils.epath access; what to install)
_SUPPORT = {"gs": (("gcsfs", "tensorflow"), "pip install gcsfs (or 'etils[epath-gcs]')"),
            "s3": (("s3fs", "tensorflow"), "pip install s3fs (or 'etils[epath-s3]')")}


def _text(p) -> str:
    """``p`` as a string, with a bucket URI that ``pathlib.Path`` squashed (``gs:/b/run``) repaired."""
    s = os.fspath(p)
    m = re.match(r"^([A-Za-z0-9]+):/(?!/)", s)
    if m and m.group(1).lower() in _SUPPORT:
        s = f"{m.group(1)}://{s[m.end():]}"
    return s


def scheme(p) -> str:
    """The URI scheme of ``p`` (``"gs"``, ``"file"``...) or ``""`` for a plain local path."""
    s = _text(p)
    return s.split("://", 1)[0].lower() if "://" in s else ""


def is_remote(p) -> bool:
    """True for a bucket URI (``gs://``, ``s3://``...); ``file://`` and plain paths are local."""
    return scheme(p) not in ("", "file")


def check_support(p) -> None:
    """Raise a :class:`DataError` naming ``p`` and the package to install when its filesystem is not
    available (e.g. ``gs://`` without gcsfs); no network access."""
    sch = scheme(p)
    if sch in ("", "file"):
        return
    if sch not in _SUPPORT:
        raise DataError(f"{p}: unsupported URI scheme {sch}://; use a local path or gs://")
    modules, install = _SUPPORT[sch]
    if not any(importlib.util.find_spec(m) is not None for m in modules):
        raise DataError(f"{p} is a {sch}:// path but the filesystem support for it is not installed: "
                        f"{install}")


def as_path(p, *, check=True):
    """A path object for ``p``: :class:`etils.epath.Path` for a bucket URI (kept as the URI),
    :class:`pathlib.Path` for a local path (``~`` expanded; ``file://`` URIs become local paths).
    ``check``: refuse a bucket URI whose filesystem support is missing (see :func:`check_support`)."""
    s = _text(p)
    sch = scheme(s)
    if isinstance(p, Path) and not sch:
        return p.expanduser()
    if sch == "file":
        u = urlparse(s)
        if u.netloc not in ("", "localhost"):
            raise DataError(f"{s}: a file:// URI must name a local path (file:///abs/path)")
        return Path(unquote(u.path))
    if sch:
        if check:
            check_support(s)
        from etils import epath  # a dependency of Orbax
        return epath.Path(s)
    return Path(s).expanduser()


def absolute(p):
    """:func:`as_path`, resolved to an absolute path when local (bucket URIs stay as they are)."""
    p = as_path(p)
    return p if is_remote(p) else p.resolve()


def shipped_names(root) -> list:
    """Names of the checkpoints shipped under ``root`` (``ckpt/<family>`` of a source checkout)."""
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def find_shipped(name_or_path, root, what: str, hint: str = "train one or give its path"):
    """A checkpoint directory from a name shipped under ``root`` or a path. A relative ``ckpt/...`` path
    that is not found here is looked up in the source checkout too, so it works from any folder. Raises
    :class:`jaxseq.errors.DataError` naming ``what``, the value and the shipped names."""
    root = Path(root)
    name = str(name_or_path)
    p = as_path(name)
    if os.sep not in name and "/" not in name and (root / name).is_dir():
        return root / name
    if p.is_dir():
        return p
    repo = root.parents[1]   # ckpt/<family> -> the checkout
    if not p.is_absolute() and p.parts[:1] == ("ckpt",) and (repo / p).is_dir():
        return repo / p
    raise DataError(f"no {what} checkpoint {name!r}: not a directory and not a shipped name (shipped: "
                    f"{shipped_names(root) or 'none'} in {root}); {hint}")
