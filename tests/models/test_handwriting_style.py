"""Priming with a person's own strokes (Style), whole pages, and the CLI's --prime-strokes/--save-style."""
from __future__ import annotations

import json

import numpy as np
import pytest

from experiments.cli_helpers import assert_user_error, run_script
from jaxseq import handwriting
from jaxseq.data.charset import Charset
from jaxseq.data.strokes import split_strokes
from jaxseq.errors import DataError
from jaxseq.models.handwriting import page
from jaxseq.models.handwriting.style import Style

STEPS = 120      # one sampling shape for every model call of this file (one compilation)


@pytest.fixture(scope="module")
def hand():
    return handwriting.load()


def pixel_line(s3, scale=23.0):
    """A stroke-3 line as a user's file holds it: absolute points per stroke, in made-up pixels."""
    return [(p * scale + 100).round(2).tolist() for p in split_strokes(s3)]


# -------------------------------------------------------------------------------------------- Style
def test_style_checks_say_what_to_do():
    cs = Charset("abc ")
    ok = np.zeros((40, 3), np.float32)
    with pytest.raises(ValueError, match="stroke-3"):
        Style(np.zeros((5, 2)), "ab")
    with pytest.raises(ValueError, match="non-finite"):
        Style(np.full((20, 3), np.nan), "ab")
    with pytest.raises(ValueError, match="transcript is empty"):
        Style(ok, "  ").check(cs)
    with pytest.raises(ValueError, match="at least a word"):
        Style(ok[:3], "a").check(cs)
    with pytest.raises(ValueError, match="shorter line"):
        Style(np.zeros((5000, 3)), "a" * 200).check(cs)
    with pytest.raises(ValueError, match="points per character"):
        Style(ok, "abc abc abc abc abc abc").check(cs)
    with pytest.raises(ValueError, match=r"does not know \['x', 'z'\]"):
        Style(ok, "abcxz").check(cs)
    with pytest.raises(ValueError, match="at most 3"):
        Style(ok, "abcab").check(cs, max_chars=3)
    assert Style(ok, "abc").check(cs).text == "abc"


def test_from_points_needs_a_transcript():
    with pytest.raises(ValueError, match="transcript"):
        Style.from_points([[[0, 0], [10, 5]]], "")


def test_save_load_round_trip(tmp_path, hand):
    s3, text = hand.prime(2)
    st = Style.from_points(pixel_line(s3), text)
    p = st.save(tmp_path / "me.json")
    back = Style.load(p)
    np.testing.assert_allclose(back.strokes, st.strokes, atol=1e-4)
    assert back.text == text == Style.from_file(p).text
    assert Style.from_file(p, "new words").text == "new words"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="not a saved style"):
        Style.load(bad)


def test_a_file_style_is_normalised_like_the_shipped_line(hand, tmp_path):
    s3, text = hand.prime(7)
    f = tmp_path / "line.json"
    f.write_text(json.dumps({"strokes": pixel_line(s3), "text": text}))
    st = Style.from_file(f).check(hand.charset, hand.max_chars)
    assert st.text == text and 0.6 < len(st.strokes) / len(s3) < 1.6


# ------------------------------------------------------------------------------------ with the model
def test_own_style_primes_exactly_like_the_same_shipped_line(hand):
    s3, text = hand.prime(3)
    a = hand.write(["abc"], style=3, seed=1, max_steps=STEPS)
    b = hand.write(["abc"], style=Style(s3, text), seed=1, max_steps=STEPS)
    np.testing.assert_array_equal(a[0], b[0])


def test_write_with_a_style_from_points_and_bad_styles(hand):
    s3, text = hand.prime(7)
    st = Style.from_points(pixel_line(s3), text)
    lines = hand.write(["abc", "abc"], style=st, seed=0, max_steps=STEPS)
    assert len(lines) == 2 and all(l.shape[1] == 3 and len(l) > 5 for l in lines)
    with pytest.raises(ValueError, match="does not know"):
        hand.write(["abc"], style=Style(st.strokes, "Zebra€"), max_steps=STEPS)


def test_write_page(hand, tmp_path):
    pg = hand.write_page("abc de\n\nfg", width=3, style=3, seed=0, max_steps=STEPS)
    assert pg.texts == ["abc", "de", "", "fg"] and pg.lines[2] is None
    svg = pg.svg()
    assert svg.count('class="line"') == 4 and "<animate" not in svg and "<title>fg</title>" in svg
    anim = pg.svg(animate=True)
    assert anim.count("<animate ") == svg.count("<path ")
    assert pg.save(tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pg.save(tmp_path / "p.svg", animate=True).read_text().startswith("<svg")
    with pytest.raises(ValueError, match="empty"):
        hand.write_page(" \n ")
    with pytest.raises(ValueError, match="width"):
        hand.write_page("abc", width=0)


def test_wrap():
    assert page.wrap("a b c d", 3) == ["a b", "c d"]
    assert page.wrap("\n\nab\n\n\ncd\n", 10) == ["ab", "", "", "cd"]
    assert page.wrap("abcdefg", 3) == ["abc", "def", "g"]


def test_page_layout_shares_one_scale():
    line = np.array([[0, 0, 0], [3, 1, 0], [3, -1, 1]], np.float32)
    pg = page.Page([line, line * 2], ["a", "b"])
    placed, w, h = pg.layout()
    assert np.ptp(placed[1][0][:, 0]) == pytest.approx(2 * np.ptp(placed[0][0][:, 0]))
    assert placed[1][0][:, 1].mean() - placed[0][0][:, 1].mean() == pytest.approx(page.PITCH, abs=2)


# ------------------------------------------------------------------------------------------------ CLI
def _prime_file(tmp_path, hand):
    s3, text = hand.prime(7)
    f = tmp_path / "line.json"
    f.write_text(json.dumps(pixel_line(s3)))
    return f, text


def test_cli_prime_strokes_and_save_style(tmp_path, hand):
    f, text = _prime_file(tmp_path, hand)
    out, saved = tmp_path / "out.svg", tmp_path / "me.json"
    r = run_script("handwriting.py", "generate", "--prime-strokes", f, "--prime-text", text, "--save-style", saved,
                   "--text", "abc", "--max-steps", STEPS, "--out", out)
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.read_text().startswith("<svg") and Style.load(saved).text == text
    r = run_script("handwriting.py", "generate", "--prime-strokes", f, "--prime-text", text, "--style", "1",
                   "--out", out)
    assert_user_error(r, "not both")


@pytest.mark.slow   # Style's own checks (test_style_checks_say_what_to_do, test_from_points_needs_a_transcript)
def test_cli_prime_strokes_user_errors(tmp_path, hand):   # and the error path above run by default
    f, text = _prime_file(tmp_path, hand)
    out = tmp_path / "out.svg"
    r = run_script("handwriting.py", "generate", "--prime-strokes", f, "--prime-text", text + " ü",
                   "--max-steps", STEPS, "--out", out)
    assert_user_error(r, "does not know", "ü")
    r = run_script("handwriting.py", "generate", "--prime-strokes", f, "--max-steps", STEPS, "--out", out)
    assert_user_error(r, "transcript")
