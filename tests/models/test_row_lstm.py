"""The row-LSTM classifier: shapes, the loss against a float64 numpy LSTM, a tiny overfit, evaluation and
its confusion matrix, the public API on a saved checkpoint, and a checkpoint of another kind refused by
name. The script runs in tests/experiments/test_row_lstm_cli.py."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq import row_lstm
from jaxseq.errors import DataError
from jaxseq.models.row_lstm import model as rl
from jaxseq.training.checkpoint import Checkpointer


@pytest.fixture(scope="module")
def small():
    cfg = rl.RowConfig(hidden=9)
    params = rl.init(jax.random.PRNGKey(0), cfg)
    x = jax.random.uniform(jax.random.PRNGKey(1), (5, 28, 28))
    y = jnp.asarray([0, 3, 9, 3, 1])
    return cfg, params, x, y


def test_shapes(small):
    cfg, params, x, y = small
    assert rl.logits(params, x).shape == (5, 10)
    assert params["lstm"]["wx"].shape == (28, 36) and params["out"]["w"].shape == (9, 10)
    assert row_lstm.RowConfig().hidden == 128 and row_lstm.RowTrainConfig().hidden == 128


def test_loss_matches_numpy_float64(small):
    _, params, x, y = small
    p = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    sig = lambda a: 1 / (1 + np.exp(-a))
    xs = np.asarray(x, np.float64)
    h = c = np.zeros((5, 9))
    for t in range(28):                                   # one row of 28 pixels per step
        i, f, g, o = np.split(xs[:, t] @ p["lstm"]["wx"] + h @ p["lstm"]["wh"] + p["lstm"]["b"], 4, -1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
    z = h @ p["out"]["w"] + p["out"]["b"]
    lse = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
    ref = np.mean(lse - z[np.arange(5), np.asarray(y)])
    loss, m = rl.loss_fn(params, {"x": x, "y": y})
    np.testing.assert_allclose(loss, ref, rtol=1e-5)
    assert float(m["accuracy"]) == np.mean(z.argmax(-1) == np.asarray(y))


def test_overfit_a_tiny_batch_then_api(tmp_path):
    import optax
    rng = np.random.default_rng(0)
    x = (rng.random((16, 28, 28)) * 255).astype(np.uint8)
    y = np.arange(16) % 10
    params = rl.init(jax.random.PRNGKey(0), rl.RowConfig(hidden=32))
    opt = optax.adam(1e-2)
    st = opt.init(params)
    batch = {"x": jnp.asarray(x / 255.0, jnp.float32), "y": jnp.asarray(y)}

    @jax.jit
    def upd(p, s):
        (l, m), g = jax.value_and_grad(rl.loss_fn, has_aux=True)(p, batch)
        u, s = opt.update(g, s)
        return optax.apply_updates(p, u), s, m["accuracy"]
    for _ in range(150):
        params, st, acc = upd(params, st)
    assert float(acc) == 1.0
    res = row_lstm.evaluate(params, x, y)
    assert res["accuracy"] == 1.0 and np.trace(res["confusion"]) == 16 and res["n"] == 16
    ck = Checkpointer(tmp_path / "run", keep=1)
    ck.save(150, params, meta={"row_lstm": {"hidden": 32}, "classes": row_lstm.CLASS_NAMES["mnist"]})
    ck.close()
    clf = row_lstm.load(tmp_path / "run")
    assert (clf.predict(x) == y).all() and (clf.predict(x.reshape(16, 784)) == y).all()
    assert clf.predict_names(x[:2]) == ["0", "1"]
    with pytest.raises(ValueError, match="shape"):
        clf.predict(np.zeros((2, 27, 27)))
    ck = Checkpointer(tmp_path / "other", keep=1)
    ck.save(1, params, meta={"charset": {"chars": ["a"]}, "model": {"vocab": 2}})
    ck.close()
    with pytest.raises(DataError, match="other is not a row-LSTM checkpoint .it holds a character LM one"):
        row_lstm.load(tmp_path / "other")


def test_config_refuses_bad_values():
    for kw, what in ((dict(data="cifar"), "data = 'cifar'"), (dict(steps=0), "steps = 0"),
                     (dict(lr=0.0), "lr = 0.0")):
        with pytest.raises(ValueError, match=what):
            row_lstm.RowTrainConfig(**kw)
