"""experiments/names.py through its real entry point: a tiny training run on a hand-made zip, its
evaluation (results and the confusion plot), predict and generate from the shipped checkpoints and from
an export, resume, --help, and user errors."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from cli_helpers import assert_user_error, run_script

TINY = ["--steps", "6", "--batch-size", "8", "--hidden", "8", "--eval-every", "3", "--no-progress"]


def toy_zip(path, n=40, seed=0):
    """A tutorial-style data.zip with three made-up languages of distinct shapes (n names each)."""
    rng = np.random.default_rng(seed)
    syl = lambda k: "".join(rng.choice(list("kstnhmyrw")) + rng.choice(list("aiueo")) for _ in range(k))
    stem = lambda: "".join(rng.choice(list("bcdfglmnprstwz")) + rng.choice(list("aeiouy")) for _ in range(2))
    langs = {"Japanese": [syl(3).title() for _ in range(n)],
             "Polish": [(stem() + rng.choice(["ski", "wicz", "czyk"])).title() for _ in range(n)],
             "Scottish": ["Mac" + stem().title() for _ in range(n)]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for lang, names in langs.items():
            z.writestr(f"data/names/{lang}.txt", "\n".join(names) + "\n")
    path.write_bytes(buf.getvalue())
    return path


def cli(*args, **kw):
    return run_script("names.py", *map(str, args), **kw)


def test_shipped_predict_and_generate(tmp_path):
    r = cli("predict", "Schmidhuber", "Nakamura", cwd=tmp_path)      # from another working directory
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines[0] == "Schmidhuber" and len(lines) == 8 and lines[1].startswith("  (-")
    assert lines[4] == "Nakamura" and lines[5].endswith("Japanese")
    r = cli("generate", "--language", "Russian", "--start", "RUS", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout.splitlines()
    assert [n[0] for n in out] == ["R", "U", "S"] and all(len(n) > 1 for n in out)


def test_train_eval_export_predict(tmp_path):
    data = toy_zip(tmp_path / "data.zip")
    run = tmp_path / "run"
    r = cli("train", "--task", "classifier", "--cell", "lstm", *TINY, "--data", data, "--ckpt-dir", run)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "classifier (lstm)" in r.stdout and "val_accuracy" in r.stdout
    r = cli("eval", "--ckpt", run, "--data", data, "--out", tmp_path / "ev")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "ev" / "results.json").read_text())["run"]
    assert 0 <= res["accuracy"] <= 1 and len(res["confusion"]) == 3
    assert (tmp_path / "ev" / "confusion_run.png").stat().st_size > 1000
    r = cli("export", "--ckpt", run, "--out", tmp_path / "exp", "--dtype", "float16")
    assert r.returncode == 0, r.stderr[-3000:]
    r = cli("predict", "Kowalski", "--ckpt", tmp_path / "exp", "--top", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(r.stdout.splitlines()) == 3
    r = cli("train", "--task", "classifier", "--cell", "gru", *TINY, "--data", data, "--ckpt-dir", run)
    assert_user_error(r, "cell")                                       # a resume that changes the model


def test_user_errors_and_help():
    assert_user_error(cli("predict", "Smith3"), "Smith3")
    assert_user_error(cli("generate", "--language", "Klingon", "--start", "K"), "Klingon")
    r = cli("train", "--help")
    assert r.returncode == 0 and "(default: gru)" in r.stdout and "--time-budget" in r.stdout


@pytest.mark.slow   # two generator runs (conditional and not) and a comparison
def test_generators_compare(tmp_path):
    data = toy_zip(tmp_path / "data.zip")
    for flag, name in (("--conditional", "cond"), ("--no-conditional", "uncond")):
        r = cli("train", "--task", "generator", flag, *TINY, "--data", data, "--ckpt-dir", tmp_path / name)
        assert r.returncode == 0, r.stderr[-3000:]
    r = cli("eval", "--ckpt", tmp_path / "cond", "--ckpt", tmp_path / "uncond", "--data", data,
            "--out", tmp_path / "ev")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert set(res["cond"]["per_language"]) == {"Japanese", "Polish", "Scottish"}
    assert (tmp_path / "ev" / "nll_per_language.png").exists()
    r = cli("generate", "--language", "polish", "--start", "KW", "--n", "2", "--ckpt", tmp_path / "cond")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 4, r.stderr[-3000:]
