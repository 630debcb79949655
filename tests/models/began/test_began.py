"""BEGAN: shapes, the L1 reconstruction loss, the k_t update (with its clipping) and M_global against
float64 numpy, the simultaneous step's gradients against direct jax.grad, determinism, and training with
resume and the generator API."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxseq import began
from jaxseq.models.began import model as bm
from jaxseq.models.began import training as T

TINY = bm.BEGANConfig(size=16, channels=1, h=4, n=4)


def test_shapes():
    for size, ch in ((32, 1), (64, 3), (8, 1)):
        c = bm.BEGANConfig(size=size, channels=ch, h=6, n=4)
        d = jax.eval_shape(lambda: bm.d_init(jax.random.PRNGKey(0), c))
        g = jax.eval_shape(lambda: bm.g_init(jax.random.PRNGKey(1), c))
        x = jax.eval_shape(lambda g: bm.generate(g, jnp.zeros((3, 6))), g)
        assert x.shape == (3, size, size, ch)
        assert jax.eval_shape(lambda d, x: bm.encode(d["enc"], x), d, x).shape == (3, 6)
        assert jax.eval_shape(bm.autoencode, d, x).shape == x.shape
    with pytest.raises(ValueError, match="size = 12"):
        bm.BEGANConfig(size=12)


def test_losses_against_numpy_float64():
    d = jax.jit(lambda k: bm.d_init(k, TINY))(jax.random.PRNGKey(0))
    x = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 1)).astype(np.float32)
    rec = np.asarray(jax.jit(bm.autoencode)(d, x), np.float64)
    np.testing.assert_allclose(float(jax.jit(bm.recon_loss)(d, x)), np.abs(x - rec).mean(), rtol=1e-5)
    gamma, lam = 0.5, 0.001
    for k, lr, lf in ((0.3, 0.2, 0.05), (0.0, 0.1, 0.4), (0.9999, 0.9, 0.0), (0.5, 0.3, 0.15)):
        want = min(max(k + lam * (gamma * lr - lf), 0.0), 1.0)
        np.testing.assert_allclose(float(bm.k_update(jnp.float32(k), lr, lf, gamma, lam)), want, rtol=1e-6)
        np.testing.assert_allclose(float(bm.m_global(lr, lf, gamma)), lr + abs(gamma * lr - lf), rtol=1e-6)
    assert float(bm.k_update(0.0, 0.1, 5.0, gamma, 1.0)) == 0.0 and float(bm.k_update(1.0, 5.0, 0.0, gamma, 1.0)) == 1.0


def tiny_cfg(**kw):
    return T.BEGANTrainConfig(size=16, h=4, n=4, batch_size=4, **kw)


def test_step_matches_direct_gradients_and_is_deterministic():
    cfg = tiny_cfg(gamma=0.7, lambda_k=0.01)
    state = T.init_state(cfg)
    state["params"]["k"] = jnp.float32(0.25)
    sgd = optax.sgd(1.0)
    state["opt"] = {"g": sgd.init(state["params"]["g"]), "d": sgd.init(state["params"]["d"])}
    p = jax.tree_util.tree_map(jnp.array, state["params"])
    real = jax.random.uniform(jax.random.PRNGKey(3), (4, 16, 16, 1), jnp.float32, -1, 1)
    key = jax.random.PRNGKey(5)
    step = jax.jit(lambda s, x, k: T.train_step(s, x, k, opt=sgd, h=4, gamma=0.7, lambda_k=0.01))
    new, m = step(state, real, key)
    again = step(jax.tree_util.tree_map(jnp.array, state), real, key)
    for a, b in zip(jax.tree_util.tree_leaves((new, m)), jax.tree_util.tree_leaves(again)):
        np.testing.assert_array_equal(a, b)
    z = jax.random.uniform(key, (4, 4), jnp.float32, -1, 1)
    fake = bm.generate(p["g"], z)
    d_obj = jax.jit(jax.grad(lambda d: bm.recon_loss(d, real) - 0.25 * bm.recon_loss(d, fake)))
    g_obj = jax.jit(jax.value_and_grad(lambda g: bm.recon_loss(p["d"], bm.generate(g, z))))
    lf, gg = g_obj(p["g"])
    lr = jax.jit(bm.recon_loss)(p["d"], real)
    close = lambda a, b: jax.tree_util.tree_map(lambda u, v: np.testing.assert_allclose(u, v, rtol=2e-4, atol=1e-6), a, b)  # noqa: E731
    close(new["params"]["d"], jax.tree_util.tree_map(lambda a, b: a - b, p["d"], d_obj(p["d"])))
    close(new["params"]["g"], jax.tree_util.tree_map(lambda a, b: a - b, p["g"], gg))
    np.testing.assert_allclose([float(m["loss_real"]), float(m["loss_fake"])], [float(lr), float(lf)], rtol=1e-5)
    np.testing.assert_allclose(float(new["params"]["k"]), 0.25 + 0.01 * (0.7 * float(lr) - float(lf)), rtol=1e-5)
    np.testing.assert_allclose(float(m["m_global"]), float(lr) + abs(0.7 * float(lr) - float(lf)), rtol=1e-5)


def test_train_resume_sample_and_convergence_plot(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (20, 16, 16, 1), np.uint8)
    _, hist = began.train(tiny_cfg(steps=2, log_every=1, n_fixed=4), imgs, tmp_path / "run", progress=False)
    _, hist2 = began.train(tiny_cfg(steps=3, log_every=1, n_fixed=4), imgs, tmp_path / "run", progress=False)
    assert [r["step"] for r in hist] == [1, 2] and [r["step"] for r in hist2] == [3]
    gen = began.load(tmp_path / "run")
    x = gen.sample(3, seed=2)
    assert x.shape == (3, 16, 16, 1) and 0 <= x.min() and x.max() <= 1
    np.testing.assert_array_equal(x, gen.sample(3, seed=2))
    import json
    rows = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [r["step"] for r in rows] == [1, 2, 3] and all("m_global" in r for r in rows)
    assert began.plot_convergence(rows, tmp_path / "m.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="gamma = 0"):
        tiny_cfg(gamma=0.0)
