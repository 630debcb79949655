"""The fused Pallas LSTM kernel against ``lax.scan``, through Pallas' interpreter on the CPU.

The interpreter runs the programs of the grid one after another, so multi-program grids (the hidden
units split over programs, joined by the grid barrier) are checked with ``T = 1`` (no barrier is
crossed) and the recurrence with one program per batch group. The barrier itself only runs on a GPU
(``benchmarks/lstm_kernel.py`` checks values there).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.nn import cells, fused_lstm, scan
from jaxseq.nn.precision import cast_params, get_policy


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.all(np.isfinite(a))
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


def _setup(seed, B=3, T=6, D=5, H=20):
    ks = jax.random.split(jax.random.PRNGKey(seed), 6)
    p = cells.LSTM.init(ks[0], D, H)
    p["b"] = 0.3 * jax.random.normal(ks[1], p["b"].shape)
    xs = jax.random.normal(ks[2], (B, T, D))
    lengths = jax.random.randint(ks[3], (B,), 1, T + 1).at[0].set(T)
    mask = (jnp.arange(T)[None] < lengths[:, None]).astype(jnp.float32)
    carry = (0.5 * jax.random.normal(ks[4], (B, H)), 0.5 * jax.random.normal(ks[5], (B, H)))
    return p, xs, mask, carry


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_forward_matches_scan(reverse, masked):
    p, xs, mask, carry = _setup(0)
    mask = mask if masked else None
    ref, (rh, rc) = scan.run(cells.LSTM, p, xs, mask=mask, carry=carry, reverse=reverse, fused=False)
    out, (h, c) = scan.run(cells.LSTM, p, xs, mask=mask, carry=carry, reverse=reverse, fused=True)
    assert out.shape == ref.shape and float(jnp.abs(ref).max()) > 0.05
    assert _rel(out, ref) < 1e-5 and _rel(h, rh) < 1e-5 and _rel(c, rc) < 1e-5
    if masked:  # zero output past each sequence's end
        assert float(jnp.abs(out * (1 - mask)[..., None]).max()) == 0.0


def _loss(fused, reverse, mask):
    def f(p, xs, carry, w_out):
        ys, (h, c) = scan.run(cells.LSTM, p, xs, mask=mask, carry=carry, reverse=reverse,
                              fused=fused)
        return jnp.sum(ys * w_out) + jnp.sum(h * w_out[:, 0]) + 0.5 * jnp.sum(c * c)
    return f


@pytest.mark.parametrize("reverse,masked", [(False, True), (True, True), (False, False)])
def test_gradients_match_scan(reverse, masked):
    p, xs, mask, carry = _setup(1)
    mask = mask if masked else None
    w_out = jax.random.normal(jax.random.PRNGKey(7), xs.shape[:2] + (20,))
    gr = jax.grad(_loss(False, reverse, mask), argnums=(0, 1, 2))(p, xs, carry, w_out)
    gf = jax.grad(_loss(True, reverse, mask), argnums=(0, 1, 2))(p, xs, carry, w_out)
    for a, b in zip(jax.tree_util.tree_leaves(gf), jax.tree_util.tree_leaves(gr)):
        assert a.shape == b.shape and _rel(a, b) < 1e-5


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_backward_matches(reverse):
    """The non-fused backward (``bwd_kernel=False``: a hand-written reverse scan) equals autodiff."""
    p, xs, mask, carry = _setup(6)
    w_out = jax.random.normal(jax.random.PRNGKey(8), xs.shape[:2] + (20,))

    def fused(p, xs, carry):
        xp = cells.LSTM.project(p, jnp.swapaxes(xs, 0, 1))
        ys, (h, c) = fused_lstm.lstm_run(p, xp, mask=mask.T, carry=carry, reverse=reverse,
                                         interpret=True, bwd_kernel=False)
        return jnp.sum(jnp.swapaxes(ys, 0, 1) * w_out) + jnp.sum(h * c)

    def ref(p, xs, carry):
        ys, (h, c) = scan.run(cells.LSTM, p, xs, mask=mask, carry=carry, reverse=reverse, fused=False)
        return jnp.sum(ys * w_out) + jnp.sum(h * c)
    gf = jax.grad(fused, argnums=(0, 1, 2))(p, xs, carry)
    gr = jax.grad(ref, argnums=(0, 1, 2))(p, xs, carry)
    for a, b in zip(jax.tree_util.tree_leaves(gf), jax.tree_util.tree_leaves(gr)):
        assert _rel(a, b) < 1e-5


def test_bfloat16_weights():
    p, xs, mask, carry = _setup(2)
    pb = cast_params(p, get_policy("bfloat16"))
    ref, _ = scan.run(cells.LSTM, p, xs, mask=mask, carry=carry, fused=False)  # float32 reference
    out, _ = scan.run(cells.LSTM, pb, xs, mask=mask, carry=carry, fused=True)
    scan_bf16, _ = scan.run(cells.LSTM, pb, xs, mask=mask, carry=carry, fused=False)
    assert out.dtype == jnp.float32
    assert _rel(out, ref) < 1e-2 and _rel(out, scan_bf16) < 1e-2
    g = jax.grad(lambda q: jnp.sum(scan.run(cells.LSTM, q, xs, mask=mask, fused=True)[0] ** 2))(pb)
    gr = jax.grad(lambda q: jnp.sum(scan.run(cells.LSTM, q, xs, mask=mask, fused=False)[0] ** 2))(pb)
    assert g["wh"].dtype == jnp.bfloat16 and _rel(g["wh"], gr["wh"]) < 2e-2


def test_float16_operands_close_to_float32():
    """``f16_operands``: float16 W_h and exchanged h (TF32-like precision) for float32 weights."""
    p, xs, mask, carry = _setup(9)
    xp = jnp.swapaxes(cells.LSTM.project(p, xs), 0, 1)
    ref, _ = scan.run(cells.LSTM, p, xs, mask=mask, carry=carry, fused=False)
    ys, _ = fused_lstm.lstm_run(p, xp, mask=mask.T, carry=carry, interpret=True, f16_operands=True)
    err = _rel(jnp.swapaxes(ys, 0, 1), ref)
    assert 0 < err < 2e-3


@pytest.mark.parametrize("batch_tile", [None, 16])
def test_multi_program_grid_one_step(batch_tile):
    """Hidden units split over 3 programs (U=16, H=40) and the batch over 2 groups: indexing, padding."""
    p, xs, mask, carry = _setup(3, B=20, T=1, D=4, H=40)
    xp = jnp.swapaxes(cells.LSTM.project(p, xs), 0, 1)
    ref, (rh, rc) = scan.run(cells.LSTM, p, xs, carry=carry, fused=False)
    ys, (h, c) = fused_lstm.lstm_run(p, xp, carry=carry, units=16, batch_tile=batch_tile,
                                     interpret=True)
    assert _rel(jnp.swapaxes(ys, 0, 1), ref) < 1e-5 and _rel(h, rh) < 1e-5 and _rel(c, rc) < 1e-5


def test_interpreter_refuses_barrier_grids_and_scan_rejects_other_cells():
    p, xs, _, _ = _setup(4)
    xp = jnp.swapaxes(cells.LSTM.project(p, xs), 0, 1)
    with pytest.raises(ValueError, match="T == 1"):
        fused_lstm.lstm_run(p, xp, units=16, interpret=True)
    g = cells.GRU.init(jax.random.PRNGKey(0), 5, 20)
    with pytest.raises(ValueError, match="LSTM"):
        scan.run(cells.GRU, g, xs, fused=True)
    ln = cells.LSTM.init(jax.random.PRNGKey(0), 5, 20, layer_norm=True)
    with pytest.raises(ValueError, match="layer norm"):
        scan.run(cells.LSTM, ln, xs, fused=True)


def test_automatic_selection_is_scan_off_gpu(monkeypatch):
    p, xs, _, _ = _setup(5)
    monkeypatch.setattr(fused_lstm, "AUTO_RULES", ((lambda T, B, H, dt: B <= 4, {"units": 16}),))
    assert fused_lstm.auto_config((6, 3, 80), jnp.float32) == {"units": 16}
    assert fused_lstm.auto_config((6, 8, 80), jnp.float32) is None
    assert not fused_lstm.supported(p, backend="cpu")
    assert fused_lstm.supported(p, backend="gpu") == (fused_lstm.plgpu is not None)
    a, _ = scan.run(cells.LSTM, p, xs)  # default: the scan on the CPU
    b, _ = scan.run(cells.LSTM, p, xs, fused=False)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_lowers_to_triton_for_cuda(dtype):
    """The GPU kernel (barrier included) lowers to Triton IR without a GPU: catches unsupported ops."""
    p = cells.LSTM.init(jax.random.PRNGKey(0), 8, 40)
    p = {**p, "wh": p["wh"].astype(dtype)}
    xp = jnp.ones((5, 4, 160), jnp.float32)
    mask = jnp.ones((5, 4), jnp.float32)
    f = jax.jit(jax.grad(lambda q, x: jnp.sum(fused_lstm.lstm_run(q, x, mask=mask, units=16)[0])))
    try:
        lowered = f.trace(p, xp).lower(lowering_platforms=("cuda",))
    except (ImportError, RuntimeError) as e:  # a jaxlib built without the Triton dialect
        pytest.skip(f"no Triton lowering here: {e}")
    assert "__gpu$xla.gpu.triton" in lowered.as_text() or "triton" in lowered.as_text()
