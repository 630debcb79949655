"""experiments/chatbot.py through its real entry point: a tiny run on tiny-Shakespeare turns, ``chat``
from its export (``--say`` and the stdin prompt), ``eval``, the shipped checkpoint from another folder,
and bad input (exit 2 with one ``error:`` line, or a ``warning:`` line and a reply)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import assert_user_error, run_script

SCRIPT = "chatbot.py"
ROOT = Path(__file__).resolve().parents[2]
TINY = ["--steps", "3", "--hidden", "8", "--layers", "1", "--batch-size", "16", "--eval-every", "0",
        "--ckpt-every", "0", "--tf-ratio", "0.5", "--pick", "latest"]


@pytest.fixture(scope="module")
def exported(data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chat")
    r = run_script(SCRIPT, "train", *TINY, "--out", tmp / "run", "--export", tmp / "exp",
                   JAXSEQ_DATA=str(data_dir))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "held-out pairs): NLL" in r.stdout and "bot:" in r.stdout
    res = json.loads((tmp / "run" / "test_results.json").read_text())
    assert res["steps"] == 3 and res["test_nll"] > 0 and len(res["examples"]) == 10
    assert res["pick"] == "latest"
    return tmp / "exp"


def test_chat_and_bad_input(exported):
    r = run_script(SCRIPT, "chat", "--ckpt", exported, "--say", "my lord ?", "--say", "good " * 500,
                   "--attention-dir", exported.parent / "att",
                   "--say", "my xyzzy lord")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("bot: ") == 3 and (exported.parent / "att" / "chat_2.png").exists()
    assert "warning: input of 500 tokens cut to its first 30" in r.stderr
    assert "warning: unknown words left out: xyzzy" in r.stderr
    r = run_script(SCRIPT, "chat", "--ckpt", exported,
                   stdin="my lord ?\n\nxyzzy plugh\ngood sir .\nq\nnever read\n")
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert len(lines) == 4 and "skipped: empty input" in lines[1] and "no word of 'xyzzy plugh'" in lines[2]
    assert_user_error(run_script(SCRIPT, "chat", "--ckpt", exported, "--say", "xyzzy"), "no word")


def test_eval(exported, data_dir, tmp_path):
    r = run_script(SCRIPT, "eval", "--ckpt", exported, "--out", tmp_path, JAXSEQ_DATA=str(data_dir))
    assert r.returncode == 0 and (tmp_path / "test_results.json").exists(), r.stderr[-3000:]


@pytest.mark.slow   # the same checks run by default in tests/test_bad_inputs.py (cases_chat.py: chat_*)
def test_user_errors(exported, tmp_path):
    assert_user_error(run_script(SCRIPT, "chat", "--ckpt", exported, "--say", ""), "empty line")
    assert_user_error(run_script(SCRIPT, "chat", "--ckpt", exported.parent / "nope"), "nope")
    assert_user_error(run_script(SCRIPT, "train", "--tf-ratio", "1.5", "--out", tmp_path), "--tf-ratio")
    assert_user_error(run_script(SCRIPT, "chat", "--beam", "0"), "--beam")


@pytest.mark.skipif(not (ROOT / "ckpt" / "chatbot" / "shakespeare").is_dir(), reason="no shipped checkpoint")
def test_shipped_checkpoint_from_another_folder(tmp_path):
    r = run_script(SCRIPT, "chat", "--say", "how now my lord ?", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("bot: "), r.stderr[-3000:]
