"""Orbax checkpoints: exact round trips, identical next step, keep-last-N plus best, sampling restore."""
import json
from pathlib import Path

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


# ------------------------------------------------------------------ issue 10: verified, crash-safe saves
def flip_bytes(step_dir, item="params", n=64):
    """Invert ``n`` bytes in the middle of the largest array file of ``item`` in a step directory."""
    files = sorted((p for p in (step_dir / item).rglob("*") if p.is_file() and p.parent.name == "d"),
                   key=lambda p: p.stat().st_size)
    data = bytearray(files[-1].read_bytes())
    mid = len(data) // 2
    data[mid:mid + n] = bytes(b ^ 0xFF for b in data[mid:mid + n])
    files[-1].write_bytes(data)


def big_params():
    rng = np.random.default_rng(1)
    return {"layers": [{"wx": rng.normal(size=(40, 100)).astype(np.float32)}],
            "b": np.zeros(3, np.float32)}


def test_hashes_recorded_and_corruption_refused(tmp_path):
    p = big_params()
    ck = checkpoint.Checkpointer(tmp_path / "ck")
    ck.save(7, p, opt_state={"mu": p})
    ck.close()
    meta = json.loads((tmp_path / "ck" / "7" / "meta" / "metadata").read_text())
    assert set(meta["hashes"]["params"]) == {"layers/0/wx", "b"}
    assert meta["hashes"]["params"]["b"] == checkpoint.array_hash(p["b"])
    assert meta["hashes"]["params"]["layers/0/wx"].startswith("float32[40,100]:")
    checkpoint.load_for_sampling(tmp_path / "ck")           # intact: loads
    flip_bytes(tmp_path / "ck" / "7")
    with pytest.raises(DataError, match=rf"{tmp_path / 'ck'} step 7: .*corrupted") as e:
        checkpoint.load_for_sampling(tmp_path / "ck")
    assert "layers/0/wx" in str(e.value) or "cannot be read" in str(e.value)
    with pytest.raises(DataError, match="corrupted"):
        checkpoint.export(tmp_path / "ck", tmp_path / "exp")
    assert not (tmp_path / "exp").exists()


def test_corrupted_opt_state_refused_on_resume(tmp_path):
    p = big_params()
    ck = checkpoint.Checkpointer(tmp_path / "ck")
    ck.save(1, p, opt_state={"mu": p})
    flip_bytes(tmp_path / "ck" / "1", "opt_state")
    ck.restore(1)                                            # params alone: fine
    with pytest.raises(DataError, match="opt_state .*corrupted|cannot be read"):
        ck.restore(1, params_like=p, opt_state_like={"mu": p})
    ck.close()


def test_checkpoint_without_hashes_loads_with_a_warning(tmp_path, caplog):
    p, _ = toy()
    ck = checkpoint.Checkpointer(tmp_path / "ck")
    ck.save(3, p)
    ck.close()
    path = tmp_path / "ck" / "3" / "meta" / "metadata"
    meta = json.loads(path.read_text())
    del meta["hashes"]
    path.write_text(json.dumps(meta))
    with caplog.at_level("WARNING", logger="jaxseq.training"):
        params, _ = checkpoint.load_for_sampling(tmp_path / "ck")
    assert "no content hashes" in caplog.text
    assert_trees_equal(params, p)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        checkpoint.load_for_sampling(tmp_path / "ck")


def test_shipped_checkpoints_carry_hashes():
    root = Path(__file__).resolve().parents[2] / "ckpt"
    for d in ("handwriting_synthesis", "handwriting_prediction", "sketch_rnn/sheep", "nmt_luong/eng-fra"):
        metas = list((root / d).glob("*/meta/metadata"))
        assert len(metas) == 1 and json.loads(metas[0].read_text())["hashes"]["params"], d


def test_incomplete_and_leftover_steps_are_skipped_then_cleaned(tmp_path):
    p, _ = toy()
    ck = checkpoint.Checkpointer(tmp_path / "ck", keep=5)
    for s in (1, 2, 3):
        ck.save(s, p)
    ck.close()
    d = tmp_path / "ck"
    (d / "3" / "params" / "_METADATA").unlink()             # a half-deleted step
    (d / "9.orbax-checkpoint-tmp").mkdir()                   # a killed save
    (d / ".deleting-1-abc").mkdir()                          # a killed prune
    params, meta = checkpoint.load_for_sampling(d)
    assert meta["step"] == 2 and (d / "3").exists()          # loading skips, changes nothing
    ck = checkpoint.Checkpointer(d, keep=5)
    assert ck.latest_step() == 2 and ck.all_steps() == [1, 2]
    assert sorted(x.name for x in d.iterdir() if not x.name.startswith("_")) == ["1", "2"]
    ck.save(3, p)                                            # the step number is free again
    assert ck.all_steps() == [1, 2, 3]
    ck.close()


def test_full_disk_prunes_first_then_refuses(tmp_path, monkeypatch, caplog):
    p = big_params()
    ck = checkpoint.Checkpointer(tmp_path / "ck", keep=2)
    ck.save(1, p)
    ck.save(2, p)
    real = checkpoint.shutil.disk_usage
    size = sum(f.stat().st_size for f in (tmp_path / "ck" / "2").rglob("*") if f.is_file())

    def usage(path):   # room for one more checkpoint only once a step is gone
        steps = [x for x in (tmp_path / "ck").iterdir() if x.name.isdigit()]
        return real(path)._replace(free=0 if len(steps) >= 2 else 100 * size)
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", usage)
    with caplog.at_level("WARNING", logger="jaxseq.training"):
        ck.save(3, p)
    assert ck.all_steps() == [2, 3] and "disk space short" in caplog.text

    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda path: real(path)._replace(free=1000))
    with pytest.raises(DataError, match=r"not enough disk space .* step 4 in .*ck: it needs about [\d,]+ "
                                        r"bytes, 1,000 are free"):
        ck.save(4, p)
    assert ck.all_steps() == [3]                             # keep - 1 kept, the save refused cleanly

    monkeypatch.setattr(checkpoint.shutil, "disk_usage", real)

    def enospc(*a, **k):   # the disk fills up during the write anyway
        raise RuntimeError("save failed") from OSError(28, "No space left on device")
    monkeypatch.setattr(ck._mngr, "save", enospc)
    with pytest.raises(DataError, match="no space left to save checkpoint step 5"):
        ck.save(5, p)
    ck.close()


def test_loading_never_creates_the_directory(tmp_path):
    for call in (lambda d: checkpoint.load_for_sampling(d),
                 lambda d: checkpoint.Checkpointer(d, create=False),
                 lambda d: checkpoint.export(d, tmp_path / "out")):
        with pytest.raises(DataError, match="does not exist"):
            call(tmp_path / "missing")
        assert not (tmp_path / "missing").exists() and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------ issue 10: resume checks
def test_check_resume_refuses_model_and_data_changes(caplog):
    stored = {"config": {"hidden": 512, "lr": 1e-3, "steps": 100}, "scale": 18.5, "data": "sheep",
              "train": {"lr": 1e-3}, "train_config": {"optimizer": "adam", "lr": 1e-3, "steps": 100}}
    req = {"config": {"hidden": 128, "lr": 1e-3, "steps": 100}, "scale": 99.7, "data": "short_kanji",
           "train": {"lr": 1e-3}}
    with pytest.raises(DataError) as e:
        checkpoint.check_resume(stored, req, train.TrainConfig(lr=1e-3, steps=100), where="runs/x step 4")
    msg = str(e.value)
    for part in ("runs/x step 4", "config.hidden stored 512, requested 128", "scale stored 18.5, requested "
                 "99.7", "data stored 'sheep', requested 'short_kanji'"):
        assert part in msg, msg
    with pytest.raises(DataError, match="train_config.optimizer stored 'adam', requested 'sgd'"):
        checkpoint.check_resume(stored, dict(stored), train.TrainConfig(optimizer="sgd", lr=1e-3, steps=100))
    ok = dict(stored, config={"hidden": 512, "lr": 0.1, "steps": 200}, train={"lr": 0.1})
    with caplog.at_level("INFO", logger="jaxseq.training"):
        out = checkpoint.check_resume(stored, ok, train.TrainConfig(lr=0.1, steps=200))
    lines = [r.getMessage() for r in caplog.records if "changed training settings" in r.getMessage()]
    assert len(lines) == 1 and "lr 0.001 -> 0.1" in lines[0] and "steps 100 -> 200" in lines[0]
    assert out["train_config"]["lr"] == 0.1
    assert checkpoint.check_resume(None, {"a": 1}, train.TrainConfig())["a"] == 1


def test_fit_resume_with_a_changed_config(tmp_path, caplog):
    p, batch = toy()
    meta = {"config": {"hidden": H}, "scale": 1.5}
    cfg = train.TrainConfig(steps=2, lr=1e-2, progress=False)
    ck = checkpoint.Checkpointer(tmp_path / "ck")
    train.fit(toy_loss, p, lambda s: batch, cfg, ckpt=ck, meta=meta)
    with pytest.raises(DataError, match=r"config.hidden stored 4, requested 8; scale stored 1.5, "
                                        r"requested 2.5"):
        train.fit(toy_loss, p, lambda s: batch, train.TrainConfig(steps=4, progress=False), ckpt=ck,
                  meta={"config": {"hidden": 8}, "scale": 2.5})
    with caplog.at_level("INFO", logger="jaxseq.training"):
        train.fit(toy_loss, p, lambda s: batch, train.TrainConfig(steps=4, lr=0.1, progress=False), ckpt=ck,
                  meta=meta)
    assert ck.latest_step() == 4 and "lr 0.01 -> 0.1" in caplog.text
    assert ck.read_meta()["train_config"]["lr"] == 0.1
    ck.close()


def test_write_history_keeps_rows_from_before_a_resume(tmp_path):
    first = [{"step": 2, "loss": 1.0}, {"step": 2, "val_loss": 1.5}, {"step": 4, "loss": 0.8}]
    checkpoint.write_history(tmp_path, first)
    # the resumed chunk: train rows after step 4, a re-evaluated step 4 replaces its old eval row only
    checkpoint.write_history(tmp_path, [{"step": 4, "val_loss": 1.2}, {"step": 6, "loss": 0.5}])
    rows = json.loads((tmp_path / "history.json").read_text())
    assert rows == [{"step": 2, "loss": 1.0}, {"step": 2, "val_loss": 1.5}, {"step": 4, "loss": 0.8},
                    {"step": 4, "val_loss": 1.2}, {"step": 6, "loss": 0.5}]
    assert [x.name for x in tmp_path.iterdir()] == ["history.json"]


def test_check_resume_tuples_equal_their_json_lists():
    """A config field that is a tuple (e.g. hidden=(32,)) comes back from the JSON meta as a list: the
    same value, so a rerun of a finished run must not be refused."""
    stored = {"config": {"hidden": [32, 16]}, "scale": 1.0}
    assert checkpoint.check_resume(stored, {"config": {"hidden": (32, 16)}, "scale": 1.0})["config"]
    with pytest.raises(DataError, match="config.hidden"):
        checkpoint.check_resume(stored, {"config": {"hidden": (32,)}, "scale": 1.0})
