"""CycleGAN training run, resume, generator export and the load()/translate() facade, on tiny unit-test
arrays (no data needed)."""
import json

import numpy as np
import pytest

from jaxseq.errors import DataError
from jaxseq.models import cyclegan

TINY = dict(ngf=4, n_down=1, n_res=1, ndf=4, d_layers=1, batch_size=2, pool_size=2, log_every=1)


@pytest.fixture(scope="module")
def domains():
    rng = np.random.default_rng(0)
    return {k: rng.integers(0, 256, (6, 8, 8, 1), dtype=np.uint8)
            for k in ("train_a", "train_b", "test_a", "test_b")}


@pytest.fixture(scope="module")
def run(tmp_path_factory, domains):
    d = tmp_path_factory.mktemp("cg")
    cfg = cyclegan.CycleGANTrainConfig(steps=2, **TINY)
    params, hist, done = cyclegan.train(cfg, domains, d / "ckpt", progress=False)
    return d, params, hist, done


def test_train_resume_and_history(run, domains):
    d, params, hist, done = run
    assert done == 2 and [h["step"] for h in hist] == [1, 2]
    assert {"loss_g", "loss_d", "cycle_a", "idt_b", "d_a"} <= set(hist[-1])
    assert set(params) == {"g_ab", "g_ba", "d_a", "d_b"}
    again, hist2, done2 = cyclegan.train(cyclegan.CycleGANTrainConfig(steps=2, **TINY), domains, d / "ckpt",
                                         progress=False)
    assert done2 == 2 and len(hist2) == 0   # finished: only restored
    np.testing.assert_array_equal(again["g_ab"]["inp"]["w"], params["g_ab"]["inp"]["w"])
    rows = json.loads((d / "ckpt" / "history.json").read_text())
    assert [r["step"] for r in rows] == [1, 2]
    with pytest.raises(DataError, match="cannot resume"):
        cyclegan.train(cyclegan.CycleGANTrainConfig(steps=3, **dict(TINY, ngf=8)), domains, d / "ckpt",
                       progress=False)


def test_export_load_translate(run, domains, tmp_path):
    d, params, _, _ = run
    assert cyclegan.export_generators(d / "ckpt", tmp_path / "exp", dtype="bfloat16") == 2
    m = cyclegan.load(tmp_path / "exp")
    assert m.config.image_size == 8 and m.domains["a"] == 7
    x = domains["test_a"]
    y = m.translate(x, "a2b")
    assert y.shape == x.shape and y.dtype == np.float32 and 0 <= y.min() and y.max() <= 1
    np.testing.assert_array_equal(m.translate(x[..., 0], "a2b"), y[..., 0])      # [N, H, W] in and out
    np.testing.assert_array_equal(m.translate(x.reshape(6, -1) / 255.0, "a2b"), y.reshape(6, -1))
    fake, back = m.cycle(x, "b2a")
    np.testing.assert_allclose(back, m.translate(m.translate(x, "b2a"), "a2b"), atol=0.02)
    full = cyclegan.load(d / "ckpt")   # a training run's folder loads too (generators only)
    np.testing.assert_allclose(full.translate(x, "a2b"), y, atol=0.05)   # bf16 export vs float32
    with pytest.raises(ValueError, match="direction"):
        m.translate(x, "a2c")
    with pytest.raises(ValueError, match="this model takes"):
        m.translate(np.zeros((2, 10, 10), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.translate(np.full((2, 8, 8), 3.0))
    with pytest.raises(DataError, match="not empty"):
        cyclegan.export_generators(d / "ckpt", tmp_path / "exp")
    with pytest.raises(DataError, match="no CycleGAN checkpoint"):
        cyclegan.load(tmp_path / "missing")


def test_class_domains_are_unpaired():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (40, 4, 4), dtype=np.uint8)
    y = np.arange(40) % 4
    d = cyclegan.class_domains(x, y, x, y, 1, 2, seed=0)
    ids = lambda arr: {a.tobytes() for a in arr}   # noqa: E731
    assert not ids(d["train_a"]) & ids(d["train_b"])
    assert len(d["test_a"]) == 10 and d["train_a"].shape[1:] == (4, 4, 1)
    with pytest.raises(DataError, match="empty"):
        cyclegan.class_domains(x, y, x, y, 1, 7)


@pytest.mark.skipif(not (cyclegan.api.SHIPPED_ROOT / "sneaker_boot").is_dir(), reason="no shipped checkpoint")
def test_shipped_checkpoint_loads_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # found from any working directory, no data needed
    m = cyclegan.load()
    assert m.domains == {"data": "fashion-mnist", "a": 7, "b": 9, "seed": 0}
    assert m.config.image_size == 28 and m.meta["param_dtype"] == "bfloat16"
    x = np.zeros((2, 28, 28), np.uint8)
    x[:, 14:20, 4:24] = 200   # a bright bar, roughly where a shoe sits
    fake, back = m.cycle(x, "a2b")
    assert fake.shape == back.shape == (2, 28, 28) and np.isfinite(fake).all()
    assert cyclegan.load("ckpt/cyclegan/sneaker_boot").config == m.config
