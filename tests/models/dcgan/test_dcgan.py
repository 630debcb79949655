"""DCGAN: shapes and parameter counts against the PyTorch tutorial's networks, the init, batch-norm
state handling (train vs eval, state updated only in train mode and threaded through the step), the BCE
losses against a float64 numpy reference, the step's gradients (the generator's vjp through the updated
discriminator) against direct jax.grad, determinism, and the one-call sampling API."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxseq import dcgan
from jaxseq.errors import DataError
from jaxseq.models.dcgan import model as dm
from jaxseq.models.dcgan import training as T

TINY = dm.DCGANConfig(size=16, channels=1, nz=8, ngf=4, ndf=4)


def n_params(tree):
    return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(tree))


def test_shapes_and_pytorch_parameter_counts():
    cfg = dm.DCGANConfig()
    g, g_bn = jax.eval_shape(lambda: dm.g_init(jax.random.PRNGKey(0), cfg))
    d, d_bn = jax.eval_shape(lambda: dm.d_init(jax.random.PRNGKey(1), cfg))
    # the tutorial's networks at 32x32 (no conv bias; BN weight + bias per channel)
    assert n_params(g) == 100 * 256 * 16 + 256 * 128 * 16 + 128 * 64 * 16 + 64 * 16 + 2 * (256 + 128 + 64)
    assert n_params(d) == 64 * 16 + 64 * 128 * 16 + 128 * 256 * 16 + 256 * 16 + 2 * (128 + 256)
    assert len(g_bn) == 3 and len(d_bn) == 2
    for size, ch in ((32, 1), (64, 3), (8, 3)):     # shapes only: eval_shape compiles nothing
        c = dm.DCGANConfig(size=size, channels=ch, nz=8, ngf=4, ndf=4)
        g, g_bn = jax.eval_shape(lambda: dm.g_init(jax.random.PRNGKey(0), c))
        d, d_bn = jax.eval_shape(lambda: dm.d_init(jax.random.PRNGKey(1), c))
        x, _ = jax.eval_shape(lambda g, s: dm.g_apply(g, s, jnp.zeros((3, 8)), True), g, g_bn)
        assert x.shape == (3, size, size, ch)
        logits, _ = jax.eval_shape(lambda d, s, x: dm.d_apply(d, s, x, True), d, d_bn, x)
        assert logits.shape == (3,)
    with pytest.raises(ValueError, match="size = 48"):
        dm.DCGANConfig(size=48)


def test_init_is_the_tutorials():
    g, _ = jax.jit(lambda k: dm.g_init(k, dm.DCGANConfig()))(jax.random.PRNGKey(0))
    w = np.concatenate([np.ravel(c["w"]) for c in g["convs"]])
    assert abs(w.std() - 0.02) < 1e-3 and abs(w.mean()) < 1e-3
    s = np.concatenate([np.ravel(b["scale"]) for b in g["bns"]])
    assert abs(s.mean() - 1.0) < 5e-3 and abs(s.std() - 0.02) < 5e-3
    assert all(float(jnp.abs(b["bias"]).max()) == 0 for b in g["bns"])


def bce64(logits, target):
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    return float(-(target * np.log(p) + (1 - target) * np.log1p(-p)).mean())


def test_losses_against_numpy_float64():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(0, 3, 64).astype(np.float32), rng.normal(0, 3, 64).astype(np.float32)
    np.testing.assert_allclose(float(dm.d_loss(real, fake)), bce64(real, 1) + bce64(fake, 0), rtol=1e-5)
    np.testing.assert_allclose(float(dm.g_loss(fake)), bce64(fake, 1), rtol=1e-5)
    np.testing.assert_allclose(float(dm.bce_with_logits(real, 0.3)), bce64(real, 0.3), rtol=1e-5)
    big = jnp.array([80.0, -80.0])      # log-sigmoid form: finite where log(sigmoid) would overflow
    np.testing.assert_allclose(float(dm.bce_with_logits(big, jnp.array([0.0, 1.0]))), 80.0, rtol=1e-6)


def test_batch_norm_state_train_vs_eval():
    g_apply = jax.jit(dm.g_apply, static_argnums=3)
    g, g_bn = dm.g_init(jax.random.PRNGKey(0), TINY)
    z = jax.random.normal(jax.random.PRNGKey(1), (16, 8))
    x_train, s_train = g_apply(g, g_bn, z, True)
    x_eval, s_eval = g_apply(g, g_bn, z, False)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(s_eval),
                                                    jax.tree_util.tree_leaves(g_bn)))   # eval: unchanged
    assert float(jnp.abs(x_train).max()) <= 1.0                       # tanh output
    assert not np.allclose(s_train[0]["mean"], g_bn[0]["mean"])        # train mode moves the averages
    assert not np.allclose(x_train, x_eval)
    # eval mode: an image depends only on its own noise; train mode: on the whole batch
    alone_eval, _ = g_apply(g, g_bn, z[:2], False)
    np.testing.assert_allclose(alone_eval, x_eval[:2], atol=1e-5)
    alone_train, _ = g_apply(g, g_bn, z[:2], True)
    assert not np.allclose(alone_train, x_train[:2], atol=1e-3)


def tiny_cfg(**kw):
    return T.DCGANTrainConfig(size=16, nz=8, ngf=4, ndf=4, batch_size=8, **kw)


def test_step_threads_the_state_matches_direct_gradients_and_is_deterministic():
    cfg = tiny_cfg()
    state = T.init_state(cfg)
    sgd = optax.sgd(1.0)
    state["opt"] = {"g": sgd.init(state["params"]["g"]), "d": sgd.init(state["params"]["d"])}
    p = jax.tree_util.tree_map(jnp.array, state["params"])
    real = jax.random.uniform(jax.random.PRNGKey(3), (8, 16, 16, 1), jnp.float32, -1, 1)
    key = jax.random.PRNGKey(4)
    step = jax.jit(lambda s, x, k: T.train_step(s, x, k, opt=sgd, nz=8))
    new, m = step(state, real, key)
    again = step(jax.tree_util.tree_map(jnp.array, state), real, key)
    for a, b in zip(jax.tree_util.tree_leaves((new, m)), jax.tree_util.tree_leaves(again)):
        np.testing.assert_array_equal(a, b)                                  # same key, same result
    z = jax.random.normal(key, (8, 8))
    fake, g_bn = jax.jit(dm.g_apply, static_argnums=3)(p["g"], p["g_bn"], z, True)

    def d_obj(d):
        rl, s = dm.d_apply(d, p["d_bn"], real, True)
        fl, s = dm.d_apply(d, s, fake, True)
        return dm.d_loss(rl, fl), s
    (ld, d_bn_mid), gd = jax.jit(jax.value_and_grad(d_obj, has_aux=True))(p["d"])
    d_new = jax.tree_util.tree_map(lambda a, b: a - b, p["d"], gd)

    def g_obj(g):
        x, _ = dm.g_apply(g, p["g_bn"], z, True)
        logits, s = dm.d_apply(d_new, d_bn_mid, x, True)
        return dm.g_loss(logits), s
    (lg, d_bn_end), gg = jax.jit(jax.value_and_grad(g_obj, has_aux=True))(p["g"])
    close = lambda a, b: jax.tree_util.tree_map(lambda u, v: np.testing.assert_allclose(u, v, rtol=2e-4, atol=1e-6), a, b)  # noqa: E731
    close(new["params"]["d"], d_new)
    close(new["params"]["g"], jax.tree_util.tree_map(lambda a, b: a - b, p["g"], gg))
    close(new["params"]["g_bn"], g_bn)            # G's statistics moved once
    close(new["params"]["d_bn"], d_bn_end)        # D's three times: real, fake, fake again
    np.testing.assert_allclose([float(m["loss_d"]), float(m["loss_g"])], [float(ld), float(lg)], rtol=1e-5)


@pytest.mark.slow  # the CLI test covers train/export/sample by default
def test_train_resume_and_one_call_sampling(tmp_path):
    cfg = tiny_cfg(steps=3, sample_every=2, log_every=1, n_fixed=4)
    imgs = np.random.default_rng(0).integers(0, 256, (40, 16, 16, 1), np.uint8)
    params, hist = dcgan.train(cfg, imgs, tmp_path / "run", progress=False)
    assert [r["step"] for r in hist] == [1, 2, 3]
    assert sorted(p.name for p in (tmp_path / "run" / "fixed").glob("*.npy")) == [
        "step_0000000.npy", "step_0000002.npy", "step_0000003.npy"]
    _, hist2 = dcgan.train(tiny_cfg(steps=4, sample_every=2, log_every=1, n_fixed=4), imgs, tmp_path / "run",
                           progress=False)
    assert [r["step"] for r in hist2] == [4]
    from jaxseq.models.dcgan.shared import export_generator
    step, size = export_generator(tmp_path / "run", tmp_path / "gen", ("g", "g_bn"), "bfloat16")
    assert step == 4 and size < 200_000
    x = dcgan.sample(5, seed=1, checkpoint=tmp_path / "gen")
    assert x.shape == (5, 16, 16, 1) and x.min() >= 0 and x.max() <= 1
    np.testing.assert_array_equal(x, dcgan.sample(5, seed=1, checkpoint=tmp_path / "gen"))
    gen = dcgan.load(tmp_path / "gen")
    np.testing.assert_allclose(gen.sample(2, seed=1), x[:2], atol=1e-6)   # eval mode: per-image
    assert not np.allclose(gen.sample(5, seed=1, train_mode=True), x)
    with pytest.raises(DataError, match="params-only export"):
        dcgan.train(cfg, imgs, tmp_path / "gen", progress=False)


def test_shipped_generator_samples_in_one_call():
    if not dcgan.SHIPPED_ROOT.joinpath("fashion-mnist").is_dir():
        pytest.skip("ckpt/dcgan/fashion-mnist is not shipped")
    x = dcgan.sample(8, seed=0)
    assert x.shape == (8, 32, 32, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert x[:, :2].mean() < 0.1 < x[:, 8:24, 8:24].mean()      # dark border (the 28 -> 32 padding), lit items
    assert dcgan.load().meta["param_dtype"] == "bfloat16"
