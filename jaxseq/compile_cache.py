"""JAX's persistent compilation cache in a user cache folder, so a second run of a sampler or translator
skips XLA compilation (most of a cold start on a CPU).

The folder is ``$JAXSEQ_COMPILE_CACHE`` if set, else ``<user cache>/jaxseq/xla`` (``$XDG_CACHE_HOME`` or
``~/.cache``). ``JAXSEQ_COMPILE_CACHE=0`` (or ``off``) switches it off. The experiment scripts and the
families' ``load()`` call :func:`enable`; it changes JAX's process-wide cache settings only when the user
has not configured a cache directory already.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

OFF = ("0", "off", "false", "no", "")
MIN_COMPILE_TIME_S = 0.0  # cache programs that took at least this long to compile

log = logging.getLogger(__name__)


def cache_path():
    """The cache folder, or None when switched off."""
    value = os.environ.get("JAXSEQ_COMPILE_CACHE")
    if value is not None:
        return None if value.strip().lower() in OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxseq" / "xla"


def enable():
    """Point JAX's persistent compilation cache at :func:`cache_path` (idempotent). Returns the folder in
    use, or None when switched off or when the folder cannot be created (then JAX compiles as usual)."""
    import jax
    current = jax.config.jax_compilation_cache_dir
    if current:                       # the user (or an earlier call) chose a folder: keep it
        return Path(current)
    path = cache_path()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        log.warning("compilation cache off: cannot create %s (%s)", path, e.strerror)
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    # every program, however small: a warm start also compiles a dozen tiny ones (PRNG seeding and
    # splitting, host-side jnp ops between the jitted calls) at 20-100 ms each on a busy 2-core CPU,
    # while reading one back takes a few ms (benchmarks/cold_start.py, docs/benchmarks.md)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    return path
