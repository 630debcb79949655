"""Sketch-RNN data: stroke-3/stroke-5 formats, batches and masks, augmentation, the compact npz writer,
the QuickDraw fetch cache, and a smoke test on the real sheep set."""
from __future__ import annotations

import numpy as np
import pytest

from jaxseq.data import sketches as sd
from jaxseq.errors import DataError


def random_sketch(rng, n):
    s = np.concatenate([rng.integers(-20, 21, (n, 2)), rng.random((n, 1)) < 0.2], 1)
    s[-1, 2] = 1  # a drawing ends with the pen lifted
    return s.astype(np.float32)


# ------------------------------------------------------------------------------------------ formats
def test_stroke3_stroke5_round_trip():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 16):
        s3 = random_sketch(rng, n)
        s5 = sd.to_stroke5(s3, 16)
        assert s5.shape == (16, 5)
        np.testing.assert_array_equal(s5[:, 2:].sum(1), 1.0)          # one pen state per row
        np.testing.assert_array_equal(s5[n:], np.tile(sd.END, (16 - n, 1)))
        np.testing.assert_array_equal(sd.to_stroke3(s5), s3)
    with pytest.raises(ValueError, match="longer than max_len"):
        sd.to_stroke5(random_sketch(rng, 17), 16)


def test_batch_layout_and_mask():
    rng = np.random.default_rng(1)
    seqs = [random_sketch(rng, n) for n in (3, 16, 9)]
    b = sd.make_batch(seqs, 16)
    assert b["x"].shape == (3, 17, 5)
    np.testing.assert_array_equal(b["x"][:, 0], np.tile(sd.START, (3, 1)))
    np.testing.assert_array_equal(b["length"], [3, 16, 9])
    m = sd.mask_of(b["length"], 16)
    np.testing.assert_array_equal(m.sum(1), [3, 16, 9])
    for i, s in enumerate(seqs):
        np.testing.assert_array_equal(sd.to_stroke3(b["x"][i, 1:]), s)


def test_augmentation_keeps_the_drawing():
    rng = np.random.default_rng(2)
    s = random_sketch(rng, 60)
    s[:, 2] = 0
    s[[20, 59], 2] = 1
    d = sd.drop_points(np.random.default_rng(3), s, 0.5)
    assert 20 < len(d) < len(s)                                     # some, not all, dropped
    np.testing.assert_allclose(d[:, :2].sum(0), s[:, :2].sum(0))    # the end point is unchanged
    assert d[:, 2].sum() == 2 and d[-1, 2] == 1                     # strokes kept
    sc = sd.random_scale(np.random.default_rng(4), s)
    ratio = sc[:, :2][s[:, :2] != 0] / s[:, :2][s[:, :2] != 0]
    assert ratio.min() >= 0.9 and ratio.max() <= 1.1
    np.testing.assert_array_equal(sd.drop_points(np.random.default_rng(3), s, 0.0), s)


# ----------------------------------------------------------------------------------- QuickDraw cache
def _write_npz(path, n=3):
    rng = np.random.default_rng(9)
    arrs = {}
    for split in sd.SPLITS:
        a = np.empty(n, dtype=object)
        a[:] = [random_sketch(rng, k).astype(np.int16) for k in range(3, 3 + n)]
        arrs[split] = a
    np.savez(path, **arrs)


def test_fetch_category_cache_and_checksum(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXSEQ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    remote = tmp_path / "remote"
    remote.mkdir()
    _write_npz(remote / "cat.npz")
    url = "file://" + str(remote) + "/{category}.npz"
    p = sd.fetch_category("cat", url_template=url)
    assert p == tmp_path / "cache" / "jaxseq" / "quickdraw" / "cat.npz"
    side = p.with_name("cat.npz.sha256")
    assert side.read_text().split()[0] == sd.sha256sum(remote / "cat.npz")
    assert len(sd.load(p)["train"]) == 3
    (remote / "cat.npz").unlink()                       # the second load comes from the cache
    assert sd.fetch_category("cat", url_template=url) == p
    _write_npz(p, n=2)                                  # the cached file changed: refused
    with pytest.raises(DataError, match="SHA-256"):
        sd.fetch_category("cat", url_template=url)
    (remote / "dog.npz").write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match="not a readable npz"):
        sd.fetch_category("dog", url_template=url)
    assert not (tmp_path / "cache" / "jaxseq" / "quickdraw" / "dog.npz").exists()
    with pytest.raises(DataError, match="could not download"):
        sd.fetch_category("cow", url_template=url)
    with pytest.raises(DataError, match="bad QuickDraw category"):
        sd.fetch_category("../etc", url_template=url)


def test_save_npz_round_trip_and_names(tmp_path):
    rng = np.random.default_rng(10)
    data = {split: [random_sketch(rng, n) for n in (3, 5)] for split in sd.SPLITS}
    data["test"][0][:, :2] /= 3                                     # not whole: stored as float32
    p = sd.save_npz(tmp_path / "sub" / "toy.npz", data)
    raw = np.load(p, allow_pickle=False)                            # pickle-free
    assert raw["train_points"].dtype == np.int16 and raw["test_points"].dtype == np.float32
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["toy.npz"]   # no temp file left
    back = sd.load(p)
    for split in sd.SPLITS:
        for a, b in zip(back[split], data[split]):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    assert sd.dataset_name("sheep") == "sheep" and sd.dataset_name(str(p)) == "toy"
    assert sd.dataset_name("sheep", "cat") == "cat"
    with pytest.raises(DataError, match="missing.npz does not exist"):
        sd.resolve(str(tmp_path / "missing.npz"))
    with pytest.raises(DataError, match="unknown data set"):
        sd.resolve("sheeep")


def test_resolve_prefers_the_given_dir_and_compact_copies(tmp_path, monkeypatch):
    env, given = tmp_path / "env" / "sketch-rnn", tmp_path / "given" / "sketch-rnn"
    env.mkdir(parents=True)
    given.mkdir(parents=True)
    (env / "aaron_sheep.npz").write_bytes(b"")
    (given / "sheep.npz").write_bytes(b"")          # what `prep` / save_npz writes
    monkeypatch.setenv("JAXSEQ_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert sd.resolve("sheep", tmp_path / "given") == given / "sheep.npz"
    assert sd.resolve("sheep") == env / "aaron_sheep.npz"
    with pytest.raises(DataError, match="omniglot.npz"):
        sd.resolve("omniglot", tmp_path / "given")


# ------------------------------------------------------------------------------ hostile npz files
def _object_npz(path, splits):
    """An npz in the official sketch-rnn layout: one object array of stroke-3 arrays per split."""
    arrays = {}
    for k, seqs in splits.items():
        a = np.empty(len(seqs), dtype=object)
        a[:] = seqs
        arrays[k] = a
    np.savez(path, **arrays)
    return path


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


class _ExecPayload(_Payload):
    def __reduce__(self):
        import builtins
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').write('x')",)


@pytest.mark.parametrize("payload, refused", [(_Payload, "system"), (_ExecPayload, "builtins.exec")])
def test_malicious_npz_is_refused_and_never_runs(tmp_path, payload, refused):
    rng = np.random.default_rng(5)
    good = [random_sketch(rng, 4).astype(np.int16) for _ in range(3)]
    marker = tmp_path / "PWNED"
    evil = _object_npz(tmp_path / "evil.npz", {"train": good[:1] + [payload(marker)], "valid": good,
                                               "test": good})
    with pytest.raises(DataError, match=rf"evil.npz: refused to load train.npy: .*{refused}"):
        sd.load(evil)
    assert not marker.exists()                                       # the payload never ran
    with pytest.raises(DataError, match="refused"):
        sd.read_npz(evil)
    assert not marker.exists()


def test_official_layout_strings_nans_and_truncation(tmp_path, caplog):
    rng = np.random.default_rng(6)
    good = [random_sketch(rng, n).astype(np.int16) for n in (3, 5, 4)]
    p = _object_npz(tmp_path / "ok.npz", {"train": good, "valid": good, "test": good})
    data = sd.load(p)                                                # the object-array layout loads
    np.testing.assert_array_equal(data["train"][1], good[1])
    # a NaN sketch would make the scale NaN: dropped, named by split and index
    bad = good[0].astype(np.float32)
    bad[1, 0] = np.nan
    p = _object_npz(tmp_path / "nan.npz", {"train": good[:2] + [bad], "valid": good, "test": good})
    with caplog.at_level("WARNING", logger="jaxseq"):
        data = sd.load(p)
    assert len(data["train"]) == 2 and np.isfinite(sd.scale_factor(data["train"]))
    assert "dropped 1 train sketch(es) with non-finite values" in caplog.text and "index 2" in caplog.text
    p = _object_npz(tmp_path / "allnan.npz", {"train": [bad], "valid": good, "test": good})
    with pytest.raises(DataError, match=r"allnan.npz: no train sketch .* non-finite values, e.g. train\[0\]"):
        sd.load(p)
    np.savez(tmp_path / "str.npz", train=np.array(["1,2,0"]), valid=np.array(["x"]), test=np.array(["y"]))
    with pytest.raises(DataError, match="str.npz: split 'train' is a <U5 array"):
        sd.load(tmp_path / "str.npz")
    _object_npz(tmp_path / "strobj.npz", {"train": ["a", "b"], "valid": good, "test": good})
    with pytest.raises(DataError, match=r"strobj.npz"):
        sd.load(tmp_path / "strobj.npz")
    cut = tmp_path / "cut.npz"
    cut.write_bytes((tmp_path / "ok.npz").read_bytes()[:200])
    with pytest.raises(DataError, match="cut.npz: not a readable npz"):
        sd.load(cut)
    with pytest.raises(DataError, match="nope.npz does not exist"):
        sd.load(tmp_path / "nope.npz")


# ------------------------------------------------------------------------------------------ real data
@pytest.mark.parametrize("name", ["sheep", "kanji", "short_kanji", "omniglot"])
def test_real_sets_load_without_pickle(data_dir, name, monkeypatch):
    def no_np_load(*a, **k):
        raise AssertionError("np.load must not be used on sketch files")
    monkeypatch.setattr(np, "load", no_np_load)
    raw = sd.read_npz(sd.resolve(name, data_dir))    # the restricted unpickler rebuilds them
    assert set(raw) >= set(sd.SPLITS) and all(len(raw[k]) > 0 for k in sd.SPLITS)
    assert raw["test"][0].dtype.kind in "if" and raw["test"][0].shape[1] == 3
    data = sd.load(sd.resolve(name, data_dir))
    assert all(np.isfinite(sd.scale_factor(data[k])) for k in sd.SPLITS)


def test_sheep_smoke(data_dir):
    path = sd.resolve("sheep", data_dir)
    data = sd.load(path, max_len=250)
    assert [len(data[s]) for s in sd.SPLITS] == [7400, 300, 300]
    scale = sd.scale_factor(data["train"])
    assert 5.0 < scale < 60.0
    bm = sd.BatchMaker(data["train"], scale, 250, 4, seed=0)
    b0, b0again = bm(0), bm(0)
    np.testing.assert_array_equal(b0["x"], b0again["x"])   # batches are a function of the step
    assert b0["x"].shape == (4, 251, 5) and b0["length"].max() <= 250
    np.testing.assert_array_equal(b0["x"][..., 2:].sum(-1), 1.0)       # one pen state per point
    for i, n in enumerate(b0["length"]):                                # real points, then end tokens
        assert b0["x"][i, n, 4] == 0 and (b0["x"][i, n + 1:, 4] == 1).all()


def test_batchmaker_dequant_spreads_integer_offsets_over_their_cells():
    rng = np.random.default_rng(0)
    seqs = [np.concatenate([rng.integers(-9, 10, (30, 2)), (rng.random((30, 1)) < 0.2)], 1).astype(np.int16)
            for _ in range(8)]
    plain = sd.BatchMaker(seqs, 2.0, 40, 8, augment=False)(0)
    noisy = sd.BatchMaker(seqs, 2.0, 40, 8, augment=False, dequant=1.0)(0)
    real = np.arange(41)[None, :] <= plain["length"][:, None]   # start token + real points
    real[:, 0] = False
    d = (noisy["x"][..., :2] - plain["x"][..., :2])[real] * 2.0   # back to data units
    assert np.all(np.abs(d) <= 0.5 + 1e-5) and np.abs(d).mean() > 0.2   # U(-0.5, 0.5): mean |d| = 0.25
    np.testing.assert_array_equal(noisy["x"][..., 2:], plain["x"][..., 2:])   # pen states untouched
    np.testing.assert_array_equal(noisy["x"][~real], plain["x"][~real])        # padding untouched
