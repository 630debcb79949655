"""Orbax checkpoints: exact round trips, identical next step, keep-last-N plus best, sampling restore."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.errors import DataError
from jaxseq.training import checkpoint
from jaxseq.training import loop as train

D, H = 3, 4


def toy_loss(p, batch, key, step):
    """A small MLP regression: the test is about checkpoints, not the model."""
    h = jnp.tanh(batch["x"] @ p["w1"] + p["b1"])
    loss = jnp.mean((h @ p["out"] - batch["y"]) ** 2)
    return loss, {"mse": loss}


def toy():
    rng = np.random.default_rng(0)
    p = {"w1": rng.normal(size=(D, H)).astype(np.float32), "b1": np.zeros(H, np.float32),
         "out": np.ones((H, 1), np.float32)}
    batch = {"x": rng.normal(size=(8, D)).astype(np.float32),
             "y": rng.normal(size=(8, 1)).astype(np.float32)}
    return p, batch


def assert_trees_equal(a, b):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_roundtrip_and_identical_next_step(tmp_path):
    cfg = train.TrainConfig(lr=1e-2)
    opt = train.make_optimizer(cfg)
    step = train.make_train_step(toy_loss, opt)
    p, batch = toy()
    state = opt.init(p)
    p, state, _ = step(jax.tree_util.tree_map(jnp.array, p), state, batch, jax.random.PRNGKey(0), 0)
    meta = {"config": {"hidden": H, "cell": "gru"}, "vocab": ["<pad>", "a", "é"],
            "scale": [0.5, 2.25]}
    ck = checkpoint.Checkpointer(tmp_path / "ck")
    ck.save(1, p, state, meta=meta, metrics={"val_loss": 0.5})
    host_p, host_s = jax.device_get((p, state))

    fresh_p, _ = toy()
    rp, rs, rmeta = ck.restore(params_like=fresh_p, opt_state_like=opt.init(fresh_p))
    assert_trees_equal(rp, host_p)
    assert_trees_equal(rs, host_s)
    assert rmeta["vocab"] == meta["vocab"] and rmeta["config"] == meta["config"]
    assert rmeta["scale"] == meta["scale"] and rmeta["step"] == 1
    assert rmeta["metrics"] == {"val_loss": 0.5}
    assert ck.read_meta(1)["vocab"] == meta["vocab"]

    key = jax.random.PRNGKey(1)
    p2, _, m2 = step(jax.tree_util.tree_map(jnp.array, host_p), jax.tree_util.tree_map(jnp.array, host_s),
                     batch, key, 0)
    p3, _, m3 = step(jax.tree_util.tree_map(jnp.array, rp), jax.tree_util.tree_map(jnp.array, rs),
                     batch, key, 0)
    assert float(m2["loss"]) == float(m3["loss"])
    assert_trees_equal(jax.device_get(p2), jax.device_get(p3))

    # without targets: the saved tree of arrays (what sampling needs), no optimizer
    raw_p, raw_s, _ = ck.restore(1)
    assert raw_s is None
    assert_trees_equal(jax.tree_util.tree_map(np.asarray, raw_p), host_p)
    ck.close()


def test_keep_last_n_and_best(tmp_path):
    p, _ = toy()
    ck = checkpoint.Checkpointer(tmp_path / "ck", keep=2, best_metric="val_loss")
    for s, v in zip(range(1, 6), [5.0, 1.0, 4.0, 3.0, 2.0]):
        ck.save(s, p, metrics={"val_loss": v})
    assert ck.all_steps() == [2, 4, 5]
    assert ck.best_step() == 2 and ck.latest_step() == 5
    ck.close()
    mx = checkpoint.Checkpointer(tmp_path / "mx", keep=1, best_metric="acc", best_mode="max")
    for s, v in zip(range(1, 4), [0.1, 0.9, 0.5]):
        mx.save(s, p, metrics={"acc": v})
    assert mx.all_steps() == [2, 3]
    mx.close()


def test_load_for_sampling_prefers_best(tmp_path):
    p, _ = toy()
    ck = checkpoint.Checkpointer(tmp_path / "ck", keep=1, best_metric="val_loss")
    bumped = jax.tree_util.tree_map(lambda a: a + 1.0, p)
    ck.save(10, p, opt_state={"count": np.int32(3)}, meta={"vocab": "ab"}, metrics={"val_loss": 1.0})
    ck.save(20, bumped, meta={"vocab": "ab"}, metrics={"val_loss": 9.0})
    ck.close()
    params, meta = checkpoint.load_for_sampling(tmp_path / "ck")
    assert meta["step"] == 10 and meta["vocab"] == "ab"
    assert_trees_equal(jax.tree_util.tree_map(np.asarray, params), p)
    params, meta = checkpoint.load_for_sampling(tmp_path / "ck", step=20)
    assert_trees_equal(jax.tree_util.tree_map(np.asarray, params), bumped)


def test_load_for_sampling_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        checkpoint.load_for_sampling(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no checkpoint"):
        checkpoint.load_for_sampling(tmp_path / "empty")


def test_export_picks_a_step_and_casts(tmp_path):
    p, _ = toy()
    run = checkpoint.Checkpointer(tmp_path / "run", keep=3, best_metric="val_bleu", best_mode="max")
    for s, v in zip((1, 2, 3), (10.0, 30.0, 20.0)):
        run.save(s, jax.tree_util.tree_map(lambda a: a + s, p), opt_state={"n": np.int32(s)},
                 meta={"vocab": "ab"}, metrics={"val_bleu": v})
    run.close()
    # best by the run's own mode (max): step 2, stored as float16, without optimizer state
    assert checkpoint.export(tmp_path / "run", tmp_path / "best", pick="best", dtype="float16") == 2
    params, meta = checkpoint.load_for_sampling(tmp_path / "best", dtype=None)
    assert meta["step"] == 2 and meta["vocab"] == "ab"
    assert all(a.dtype == np.float16 for a in jax.tree_util.tree_leaves(params))
    np.testing.assert_allclose(params["w1"], np.asarray(p["w1"]) + 2, rtol=1e-3, atol=1e-3)
    assert checkpoint.Checkpointer(tmp_path / "best").restore()[1] is None
    assert checkpoint.export(tmp_path / "run", tmp_path / "last") == 3
    assert checkpoint.export(tmp_path / "run", tmp_path / "one", step=1) == 1
    with pytest.raises(DataError, match="step 7 is not in"):
        checkpoint.export(tmp_path / "run", tmp_path / "x", step=7)
    with pytest.raises(DataError, match="already holds a checkpoint"):
        checkpoint.export(tmp_path / "run", tmp_path / "last")
    # float32 by default when loading for sampling
    params, _ = checkpoint.load_for_sampling(tmp_path / "best")
    assert all(a.dtype == np.float32 for a in jax.tree_util.tree_leaves(params))
