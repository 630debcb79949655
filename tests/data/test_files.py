"""Data helpers: where files are found, checksummed downloads, padding, batches, splits."""
import hashlib

import numpy as np
import pytest

from jaxseq.data import batching, files
from jaxseq.errors import DataError


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Three candidate roots (explicit, $JAXSEQ_DATA, user cache) under tmp_path."""
    explicit, env, xdg = tmp_path / "explicit", tmp_path / "env", tmp_path / "xdg"
    for d in (explicit, env, xdg / "jaxseq"):
        d.mkdir(parents=True)
    monkeypatch.setenv("JAXSEQ_DATA", str(env))
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    return explicit, env, xdg / "jaxseq"


def put(root, rel, text):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_find_file_priority(dirs):
    explicit, env, cache = dirs
    assert files.cache_dir() == cache
    rel = "set/a.txt"
    put(cache, rel, "cache")
    assert files.find_file(rel, explicit).read_text() == "cache"
    put(env, rel, "env")
    assert files.find_file(rel, explicit).read_text() == "env"
    put(explicit, rel, "explicit")
    assert files.find_file(rel, explicit).read_text() == "explicit"
    assert files.find_file(rel).read_text() == "env"            # no --data-dir given
    assert files.data_dirs(explicit) == [explicit, env, cache]


def test_find_file_missing_names_places_and_hint(dirs):
    explicit, env, cache = dirs
    with pytest.raises(DataError) as e:
        files.find_file("iam-ondb/lineStrokes-all.tar.gz", explicit, how_to_get="Register at IAM-OnDB.")
    msg = str(e.value)
    for d in dirs:
        assert str(d / "iam-ondb/lineStrokes-all.tar.gz") in msg
    assert "Register at IAM-OnDB." in msg and "JAXSEQ_DATA" in msg


def test_download_with_checksum(dirs, tmp_path):
    src = tmp_path / "remote" / "file.bin"
    src.parent.mkdir()
    src.write_bytes(b"payload" * 100)
    good = hashlib.md5(src.read_bytes()).hexdigest()
    p = files.find_file("dl/file.bin", dirs[0], url=src.as_uri(), md5=good)
    assert p == dirs[2] / "dl/file.bin" and p.read_bytes() == src.read_bytes()
    assert files.find_file("dl/file.bin", dirs[0]) == p          # found in the cache next time


def test_download_checksum_mismatch_leaves_nothing(dirs, tmp_path):
    src = tmp_path / "remote.bin"
    src.write_bytes(b"corrupted")
    with pytest.raises(DataError, match="checksum mismatch"):
        files.find_file("dl/x.bin", dirs[0], url=src.as_uri(), md5="0" * 32)
    left = [p for p in dirs[2].rglob("*") if p.is_file()]
    assert left == [], left
    with pytest.raises(DataError, match="could not download"):
        files.find_file("dl/y.bin", dirs[0], url=(tmp_path / "absent.bin").as_uri())
    assert [p for p in dirs[2].rglob("*") if p.is_file()] == []


def test_pad_batch():
    seqs = [np.ones((3, 2)), 2 * np.ones((1, 2)), np.zeros((0, 2))]
    x, m = batching.pad_batch(seqs)
    assert x.shape == (3, 3, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(m, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(x[1], [[2, 2], [0, 0], [0, 0]])
    x, m = batching.pad_batch([np.arange(2)], max_len=5, dtype=np.int32, pad_value=-1)
    np.testing.assert_array_equal(x, [[0, 1, -1, -1, -1]])
    with pytest.raises(ValueError, match="exceeds max_len=2"):
        batching.pad_batch([np.arange(3)], max_len=2)


def test_batch_indices_deterministic_epochs():
    n, bs = 10, 3
    a = [batching.batch_indices(s, n, bs, seed=1) for s in range(6)]
    b = [batching.batch_indices(s, n, bs, seed=1) for s in range(6)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    epoch0 = np.concatenate(a[:3])   # 3 full batches per epoch, tail dropped
    assert len(set(epoch0.tolist())) == 9
    assert not np.array_equal(np.concatenate(a[3:]), epoch0)       # a new permutation per epoch
    assert not np.array_equal(batching.batch_indices(0, n, bs, seed=2), a[0])
    with pytest.raises(ValueError, match="larger than the data set"):
        batching.batch_indices(0, 2, 3)


def test_length_buckets():
    np.testing.assert_array_equal(batching.length_buckets([1, 8, 9, 16], [8, 16]), [0, 0, 1, 1])
    with pytest.raises(ValueError, match="exceeds the largest bucket"):
        batching.length_buckets([17], [8, 16])


def test_split_indices():
    parts = batching.split_indices(103, [0.8, 0.1, 0.1], seed=3)
    assert [len(p) for p in parts] == [82, 10, 11]
    allidx = np.concatenate(parts)
    np.testing.assert_array_equal(np.sort(allidx), np.arange(103))   # disjoint and complete
    again = batching.split_indices(103, [0.8, 0.1, 0.1], seed=3)
    for p, q in zip(parts, again):
        np.testing.assert_array_equal(p, q)


def test_explicit_data_dir_must_exist(dirs, tmp_path):
    """A mistyped data directory is an error naming it, not a silent fall-back to $JAXSEQ_DATA."""
    _, env, _ = dirs
    put(env, "set/a.txt", "env")
    for bad in (tmp_path / "nodir", put(tmp_path, "afile", "x")):
        with pytest.raises(DataError, match=f"data directory {bad}"):
            files.find_file("set/a.txt", bad)
    assert files.find_file("set/a.txt", None).read_text() == "env"


def test_check_output_dir_creates_nothing(tmp_path):
    f = put(tmp_path, "f", "x")
    for bad in (f, f / "run", f / "a" / "b"):
        with pytest.raises(ValueError, match=str(bad)):
            files.check_output_dir(bad)
    assert files.check_output_dir(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def _boom():
    raise RuntimeError("disk full")


def test_write_atomic_leaves_nothing_half_written(tmp_path, monkeypatch):
    p = files.write_atomic(tmp_path / "sub" / "r.json", "{}")
    assert p.read_text() == "{}"
    assert p.stat().st_mode & 0o777 == 0o666 & ~files._umask()   # like open(), not mkstemp's 0600
    assert files.write_atomic(tmp_path / "sub" / "b", lambda f: f.write(b"\x00\x01")).read_bytes() == b"\x00\x01"
    with pytest.raises(RuntimeError):   # a writer that fails half-way leaves neither a file nor a temp
        files.write_atomic(tmp_path / "sub" / "c", lambda f: (f.write(b"half"), _boom()))
    assert sorted(q.name for q in p.parent.iterdir()) == ["b", "r.json"]
    (p.parent / "b").unlink()
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space")))
    with pytest.raises(OSError):
        files.write_atomic(p, "new")
    assert p.read_text() == "{}" and [q.name for q in p.parent.iterdir()] == ["r.json"]


def test_checkpoint_kind_from_meta():
    kind = files.checkpoint_kind
    assert kind({"model": {"hidden": 4}, "src_vocab": []}) == "NMT"
    assert kind({"vae": {}}) == "VAE" and kind({"model": "sketch_rnn"}) == "Sketch-RNN"
    assert kind({"config": {"task": "synthesis", "n_mix": 20}}) == "handwriting synthesis"
    assert kind({"charset": [], "model": {}, "mode": "tf"}) == kind({"charset": [], "model": {}}) == "character LM"
    assert kind({}) == kind(None) == "unknown"
    with pytest.raises(DataError, match="x is an NMT checkpoint, not a VAE one"):
        files.require_kind("x", {"model": {}, "src_vocab": 1}, "VAE")
    files.require_kind("x", {"vae": {}}, "VAE")


def test_bucket_outputs_and_data_dirs(monkeypatch):
    """gs:// outputs are written as one whole object through epath; a gs:// data folder is refused
    with what to do (data sets are read from local disk)."""
    written = {}

    class FakeBucketPath:
        def __init__(self, s):
            self.s = s

        @property
        def parent(self):
            return FakeBucketPath(self.s.rsplit("/", 1)[0])

        def mkdir(self, parents=False, exist_ok=False):
            written.setdefault("dirs", []).append(self.s)

        def write_bytes(self, b):
            written[self.s] = b

    monkeypatch.setattr(files, "as_path", lambda p, **kw: FakeBucketPath(str(p)))
    files.write_atomic("gs://b/run/results.json", '{"a": 1}')
    files.write_atomic("gs://b/run/fig.png", lambda f: f.write(b"PNG"))
    assert written["gs://b/run/results.json"] == b'{"a": 1}' and written["gs://b/run/fig.png"] == b"PNG"
    assert isinstance(files.check_output_dir("gs://b/run"), FakeBucketPath)
    with pytest.raises(DataError, match="copy the folder to local disk"):
        files.data_dirs("gs://b/data")
