"""Shared test fixtures: the real-data root and a headless matplotlib backend."""
from __future__ import annotations

import os
from pathlib import Path

import jax
import pytest

# Plots in tests must never try to open a window (CI and the GPU box have no display).
os.environ["MPLBACKEND"] = "Agg"

# The scripts' persistent XLA cache goes to a folder of this test session, not the user's cache
# (subprocesses inherit it, so repeated CLI compiles within the session are shared).
if "JAXSEQ_COMPILE_CACHE" not in os.environ:
    import tempfile
    os.environ["JAXSEQ_COMPILE_CACHE"] = tempfile.mkdtemp(prefix="jaxseq-xla-")

# Tests compare float32 results with float64 references; on GPUs the default float32 matmul may run in
# TF32 (10-bit mantissa), which would fail those checks for the wrong reason. A no-op on CPU.
jax.config.update("jax_default_matmul_precision", "highest")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the real data sets (``$JAXSEQ_DATA``, CI sets it to ../shared/data); skips if absent."""
    root = os.environ.get("JAXSEQ_DATA")
    if not root:
        pytest.skip("real data not available: set JAXSEQ_DATA to the data root (e.g. ../shared/data)")
    path = Path(root).expanduser()
    if not path.is_dir():
        pytest.skip(f"real data not available: JAXSEQ_DATA={root!r} is not a directory")
    return path


@pytest.fixture
def x64():
    """Run the test body with 64-bit JAX types, restored afterwards (the flag is global)."""
    import jax
    ctx = getattr(jax, "enable_x64", None)
    if ctx is None:  # older JAX spells it jax.experimental.enable_x64
        from jax.experimental import enable_x64 as ctx
    with ctx(True):
        yield


def assert_grad_close(f, args, *, n_dirs=4, eps=1e-6, rtol=1e-6, atol=1e-8, seed=0):
    """Central finite differences of scalar ``f(*args)`` along random directions vs ``jax.grad``.

    Call inside the ``x64`` fixture with float64 args. One jitted ``f`` and one jitted gradient, so it
    costs two compilations however many parameters the pytree holds.
    """
    import jax
    import numpy as np
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(args)
    assert flat.dtype == np.float64, "run finite-difference checks in float64 (use the x64 fixture)"
    fun = jax.jit(lambda v: f(*unravel(v)))
    grad = np.asarray(jax.jit(jax.grad(fun))(flat))
    rng = np.random.default_rng(seed)
    for _ in range(n_dirs):
        v = rng.normal(size=flat.shape)
        v /= np.linalg.norm(v)
        fd = (float(fun(flat + eps * v)) - float(fun(flat - eps * v))) / (2 * eps)
        np.testing.assert_allclose(grad @ v, fd, rtol=rtol, atol=atol)


def random_params(init, *args, seed=0, scale=0.5, **kw):
    """Params with the structure, shapes and dtypes ``init(key, *args, **kw)`` would return, filled
    with numpy normals times ``scale``. Uses ``jax.eval_shape`` (tracing only): an eager
    ``jax.random`` call compiles per shape and costs about a second of CPU on a small machine."""
    import jax
    import numpy as np

    shapes = jax.eval_shape(lambda k: init(k, *args, **kw), jax.random.PRNGKey(0))
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(
        lambda s: (scale * rng.normal(size=s.shape)).astype(s.dtype), shapes)
