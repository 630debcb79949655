"""jaxseq.paths (issue 17): bucket URIs stay URIs end to end, local paths behave as before, ``file://``
round-trips through Orbax, and a missing filesystem package is one clear error. No network."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from etils import epath

from jaxseq import paths
from jaxseq.errors import DataError
from jaxseq.training import checkpoint


def test_local_paths_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.as_path("runs/x") == Path("runs/x") and type(paths.as_path("runs/x")) is type(Path("x"))
    assert paths.as_path("~/runs") == tmp_path / "runs"
    assert paths.as_path(tmp_path / "a") == tmp_path / "a"
    assert not paths.is_remote("runs/x") and not paths.is_remote("file:///tmp/x")
    assert paths.is_remote("gs://bucket/run") and paths.scheme("gs://b/x") == "gs"
    assert paths.as_path("file:///tmp/a%20b") == Path("/tmp/a b")
    with pytest.raises(DataError, match="file:///abs/path"):
        paths.as_path("file://host/x")


def _with_gcs(monkeypatch):
    monkeypatch.setattr(paths, "check_support", lambda p: None)   # as if gcsfs were installed


def test_gs_uri_stays_a_uri(monkeypatch):
    _with_gcs(monkeypatch)
    for given in ("gs://bucket/run", Path("gs://bucket/run"), epath.Path("gs://bucket/run")):
        p = paths.as_path(given)          # Path() squashes gs:// to gs:/ : repaired
        assert isinstance(p, epath.Path) and str(p) == "gs://bucket/run"
        assert str(p / "4" / "meta") == "gs://bucket/run/4/meta"
        assert str(paths.absolute(given)) == "gs://bucket/run"


def test_checkpointer_hands_the_uri_to_orbax(monkeypatch):
    _with_gcs(monkeypatch)
    seen = {}

    class FakeManager:
        def __init__(self, directory, options=None):
            seen["dir"], seen["options"] = directory, options

        def close(self):
            pass
    monkeypatch.setattr(checkpoint.ocp, "CheckpointManager", FakeManager)
    ck = checkpoint.Checkpointer("gs://bucket/run/ckpt", keep=2)
    assert str(ck.directory) == "gs://bucket/run/ckpt" and str(seen["dir"]) == "gs://bucket/run/ckpt"
    assert isinstance(seen["dir"], epath.Path) and seen["options"].create
    ck.close()


def test_gs_without_filesystem_support_is_one_clear_error(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("gcsfs", "tensorflow") else real(name, *a))
    with pytest.raises(DataError, match=r"gs://bucket/run.*pip install gcsfs"):
        checkpoint.Checkpointer("gs://bucket/run")
    with pytest.raises(DataError, match="gs://bucket/run"):
        checkpoint.load_for_sampling("gs://bucket/run")
    with pytest.raises(DataError, match="unsupported URI scheme"):
        paths.as_path("ftp://host/x")


def test_file_uri_round_trip_through_orbax(tmp_path):
    p = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.int32(3)}
    uri = "file://" + str(tmp_path / "run")
    ck = checkpoint.Checkpointer(uri, keep=1)
    assert ck.directory == tmp_path / "run"
    ck.save(5, p, meta={"vocab": "ab"})
    ck.close()
    params, meta = checkpoint.load_for_sampling(uri)
    assert meta["step"] == 5 and meta["vocab"] == "ab"
    np.testing.assert_array_equal(params["w"], p["w"])
    assert checkpoint.export(uri, "file://" + str(tmp_path / "exp"), dtype="float16") == 5
    assert (tmp_path / "exp" / "5" / "meta" / "metadata").exists()
