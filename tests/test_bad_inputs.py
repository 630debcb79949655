"""Hostile input through the real entry points (issue 10): every case must exit with status 2, print one
``error: ...`` line that names the file or value, show no traceback, and leave no output file behind.

The cases live in ``tests/bad_inputs/cases_*.py``: each module defines ``CASES``, a list of
:class:`bad_inputs.Case`. A case's ``setup(tmp_path)`` (optional) makes the bad files it needs and may
return extra arguments; ``args`` may contain ``{tmp}``, replaced by the case's temporary folder.
"""
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import bad_inputs

ROOT = Path(__file__).resolve().parents[1]


def all_cases():
    out = []
    for m in pkgutil.iter_modules(bad_inputs.__path__):
        if m.name.startswith("cases_"):
            out += importlib.import_module(f"bad_inputs.{m.name}").CASES
    return out


CASES = all_cases()

# Cases that take the same validation path as a sibling case of the same script and command (another
# value, or another field of the same config check, to the same one ``error:`` line): they run with
# ``-m slow``, the sibling in the default run. Each case starts a Python process that imports JAX (~1 s
# of the default suite on a 2-core CPU).
SAME_CHECK_AS = {
    "nmt_beam_negative": "nmt_beam_zero", "nmt_translate_blank": "nmt_translate_empty",
    "nmt_batch_zero": "nmt_steps_negative", "nmt_lr_negative": "nmt_steps_negative",
    "nmt_dropout_one": "nmt_steps_negative", "chat_hidden_zero": "chat_tf_ratio",
    "s2s_tf_ratio": "s2s_steps_zero", "hw_text_blank": "hw_text_empty", "hw_n_negative": "hw_n_zero",
    "hw_style_negative": "hw_style_out_of_range", "sketch_pair_negative": "sketch_pair_out_of_range",
    "sketch_temperature_negative": "sketch_temperature_zero", "sketch_n_negative": "sketch_n_zero",
    "ss_batch_zero": "ss_steps_negative", "ss_lr_negative": "ss_steps_negative",
    "ss_sample_length_negative": "ss_sample_length_zero", "vae_batch_zero": "vae_epochs_zero",
    "vae_lr_negative": "vae_epochs_zero", "vae_iw_k_zero": "vae_epochs_zero",
    "mdn_lr_negative": "mdn_steps_negative", "mdn_n_mix_zero": "mdn_steps_negative",
    "ckpt_missing_dir": "hw_ckpt_missing",
}


def test_enough_cases():
    assert len(CASES) >= 40, f"only {len(CASES)} bad-input cases"
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    ids = {c.id for c in CASES}
    for slow, kept in SAME_CHECK_AS.items():   # every slow case keeps a sibling in the default run
        assert slow in ids and kept in ids and kept not in SAME_CHECK_AS, (slow, kept)


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c.id in SAME_CHECK_AS else c
                                  for c in CASES], ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path):
    extra = list(case.setup(tmp_path) or []) if case.setup else []
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args] + extra
    before = {p for p in tmp_path.rglob("*")}
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / case.script), *args],
                          capture_output=True, text=True, timeout=case.timeout, cwd=tmp_path,
                          input=case.stdin)
    err = proc.stderr
    assert proc.returncode == 2, f"exit {proc.returncode}\nstdout:\n{proc.stdout[-1500:]}\nstderr:\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(lines) == 1, err[-3000:]
    for needle in case.names:
        assert needle.replace("{tmp}", str(tmp_path)) in lines[0], (needle, lines[0])
    new = {p for p in tmp_path.rglob("*")} - before
    leftovers = [p for p in new if p.is_file() and p.name not in case.allowed_new]
    assert not leftovers, f"files left behind: {leftovers}"
