"""experiments/char_lm.py through its real entry point: a tiny train run on a synthetic play, eval,
generate (temperature and greedy), export, resume of a finished run; the shipped checkpoint's README
command; bad inputs (an empty corpus file, a prime outside the vocabulary) as one error line, exit 2."""
from __future__ import annotations

import json

import pytest

from cli_helpers import ROOT, assert_user_error, run_script
from toy_data import play_cache

TINY = ["--steps", "6", "--batch-size", "4", "--seq-len", "16", "--embed", "8", "--hidden", "16",
        "--layers", "1", "--eval-every", "3", "--val-streams", "2", "--warmup", "0", "--unroll", "1",
        "--log-every", "3", "--no-progress"]
SHIPPED = ROOT / "ckpt" / "char_lm" / "shakespeare"


def cli(*args, **kw):
    return run_script("char_lm.py", *args, **kw)


def test_train_eval_generate_export(tmp_path):
    data = play_cache(tmp_path / "play.npz", lines=60)
    run = tmp_path / "run"
    r = cli("train", "--data", data, *TINY, "--ckpt-dir", run)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.splitlines()[0])
    assert res["step"] == 6 and 0 < res["val_bits_per_char"] < 8 and "--- sample ---" in r.stdout
    hist = json.loads((run / "history.json").read_text())
    assert [h["step"] for h in hist if "val_bits_per_char" in h] == [3, 6]
    r = cli("train", "--data", data, *TINY, "--ckpt-dir", run)      # finished: nothing more to train
    assert r.returncode == 0 and json.loads(r.stdout.splitlines()[0])["step"] == 6, r.stderr[-3000:]
    r = cli("eval", "--ckpt", run, "--data", data, "--val-streams", "2", "--out", tmp_path / "e.json")
    assert r.returncode == 0, r.stderr[-3000:]
    ev = json.loads((tmp_path / "e.json").read_text())
    assert ev["val_bits_per_char"] == pytest.approx(res["val_bits_per_char"], rel=1e-4)
    r = cli("export", "--ckpt", run, "--out", tmp_path / "exp", "--dtype", "bfloat16")
    assert r.returncode == 0 and "exported step 6" in r.stdout, r.stderr[-3000:]
    r = cli("generate", "--ckpt", tmp_path / "exp", "--prime", "KING", "--n", "3", "--length", "20",
            "--out", tmp_path / "g.txt")
    assert r.returncode == 0, r.stderr[-3000:]
    texts = (tmp_path / "g.txt").read_text().split("\n-----\n")[:-1]
    assert len(texts) == 3 and all(t.startswith("KING") for t in texts)
    r = cli("generate", "--ckpt", tmp_path / "exp", "--prime", "KING", "--n", "2", "--length", "20",
            "--temperature", "0")
    greedy = r.stdout.split("\n-----\n")
    assert r.returncode == 0 and greedy[0] == greedy[1], r.stderr[-3000:]


def test_bad_inputs_exit_2_with_one_error_line(tmp_path):
    empty = tmp_path / "data" / "tinyshakespeare"
    empty.mkdir(parents=True)
    (empty / "input.txt").write_text("")
    r = cli("train", "--data-dir", tmp_path / "data", "--ckpt-dir", tmp_path / "run", "--no-progress")
    assert_user_error(r, str(empty / "input.txt"), "only 0 characters")
    data = play_cache(tmp_path / "play.npz", lines=60)
    r = cli("train", "--data", data, *TINY, "--batch-size", "500", "--ckpt-dir", tmp_path / "r2")
    assert_user_error(r, "play.npz", "--batch-size")
    r = cli("train", "--data", data, *TINY, "--dropout", "1.5", "--ckpt-dir", tmp_path / "r3")
    assert_user_error(r, "--dropout 1.5")
    r = cli("generate", "--ckpt", tmp_path / "nothing")
    assert_user_error(r, "nothing")
    if SHIPPED.is_dir():
        r = cli("generate", "--prime", "ROMEO€", "--n", "1")
        assert_user_error(r, "prime 'ROMEO€'", "'€'", "not in the model's vocabulary")


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="ckpt/char_lm/shakespeare not shipped in this checkout")
def test_readme_command_from_the_shipped_checkpoint(tmp_path):
    r = cli("generate", "--prime", "ROMEO:", "--n", "4", "--temperature", "0.8", "--length", "80", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    texts = r.stdout.split("\n-----\n")[:-1]
    assert len(texts) == 4 and all(t.startswith("ROMEO:") for t in texts)


def test_help_shows_defaults():
    r = cli("train", "--help")
    assert r.returncode == 0 and "--seq-len" in r.stdout and "(default: 128)" in r.stdout
