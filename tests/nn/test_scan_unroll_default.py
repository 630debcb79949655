"""The scan's unroll default per backend (issue 15): 1 on a CPU, 4 on a GPU; the unroll is speed only."""
import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.nn import cells, scan


def test_default_unroll_per_backend():
    assert scan.default_unroll("cpu") == 1
    assert scan.default_unroll("gpu") == scan.default_unroll("cuda") == 4
    assert scan.default_unroll("tpu") == 1          # not measured there: the plain loop
    assert scan.default_unroll() == scan.default_unroll(jax.default_backend())


def test_the_default_and_any_unroll_give_the_same_layer():
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    p = cells.LSTM.init(k1, 5, 8)
    xs = jax.random.normal(k2, (3, 11, 5))                       # 11 steps: not a multiple of 4
    mask = (jnp.arange(11)[None] < jnp.array([[11], [7], [3]])).astype(jnp.float32)
    ref = scan.run(cells.LSTM, p, xs, mask=mask, unroll=1, fused=False)
    for u in (None, 4):
        got = scan.run(cells.LSTM, p, xs, mask=mask, unroll=u, fused=False)
        jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), got, ref)
