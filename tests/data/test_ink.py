"""Reading a person's pen strokes (JSON, InkML, IAM-OnDB XML) and normalising them as the training lines."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from jaxseq.data import iam, ink
from jaxseq.data.strokes import to_absolute
from jaxseq.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "iam" / "iam_lines.npz"


def wavy(n_strokes=3, n=40, x0=0.0, scale=1.0, density=1):
    """Cursive-like strokes in made-up pixel units: [[x, y, t], ...] per stroke."""
    out, t = [], 0.0
    for k in range(n_strokes):
        u = np.linspace(0, 4 * np.pi, n * density)
        x = x0 + k * 60 + u * 3
        y = 30 + 10 * np.sin(u) + 4 * np.cos(3 * u)
        out.append([[float(a * scale), float(b * scale), t + 8.0 * i] for i, (a, b) in enumerate(zip(x, y))])
        t += 8.0 * len(u) + 200
    return out


# ---------------------------------------------------------------------------------------------- JSON
def test_json_list_and_object_forms():
    pts = [[[0, 0, 0], [1, 2, 10]], [[5, 5]]]
    a = ink.read(json.dumps(pts))
    assert len(a.strokes) == 2 and a.strokes[0].shape == (2, 3) and np.isnan(a.strokes[1][0, 2])
    assert a.text is None and a.units is None
    b = ink.read(json.dumps({"strokes": pts, "text": "hi"}).encode())
    assert b.text == "hi" and b.n_points == 3


def test_json_file(tmp_path):
    p = tmp_path / "line.json"
    p.write_text(json.dumps(wavy()))
    k = ink.read(p)
    assert k.source == str(p) and len(k.strokes) == 3


@pytest.mark.parametrize("data, words", [
    ("[[[0, 0]", ["not valid JSON"]),
    ("[]", ["no strokes"]),
    ("[[]]", ["every stroke is empty"]),
    ('[[[0, 0, 0, 0]]]', ["stroke 0", "shape"]),
    ('[[[0, 0]], [[1, NaN]]]', ["stroke 1", "not finite"]),
    ('[[["a", 0]]]', ["stroke 0"]),
    ('{"points": []}', ["'strokes'"]),
    ('{"strokes": [[[0, 0]]], "text": 3}', ["'text'"]),
])
def test_json_errors_name_the_problem(data, words):
    with pytest.raises(DataError) as e:
        ink.read(data, "me.json")
    assert "me.json" in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ink.read(tmp_path / "nope.json")
    p = tmp_path / "x.txt"
    p.write_text("hello")
    with pytest.raises(DataError, match="not a stroke file"):
        ink.read(p)


# --------------------------------------------------------------------------------------------- InkML
INKML = """<ink xmlns="http://www.w3.org/2003/InkML">
  <traceFormat><channel name="X" type="decimal"/><channel name="Y" type="decimal"/>
    <channel name="T" type="integer"/></traceFormat>
  <annotation type="transcription">hello there</annotation>
  <trace>10 20 0, 11 22 5, 13 25 10</trace>
  <trace>30 20 40, 31 21 45</trace>
</ink>"""


def test_inkml_with_time_channel_and_transcript():
    k = ink.read(INKML, "a.inkml")
    assert k.text == "hello there" and len(k.strokes) == 2
    np.testing.assert_array_equal(k.strokes[0], [[10, 20, 0], [11, 22, 5], [13, 25, 10]])


def test_inkml_default_channels_and_errors():
    k = ink.read('<ink xmlns="http://www.w3.org/2003/InkML"><trace>1 2, 3 4</trace></ink>')
    assert k.strokes[0][:, :2].tolist() == [[1, 2], [3, 4]] and k.text is None
    with pytest.raises(DataError, match="difference encoding"):
        ink.read("<ink><trace>1 2, '1 1, \"0 0</trace></ink>", "d.inkml")
    with pytest.raises(DataError, match="malformed"):
        ink.read("<ink><trace>1 2</ink>", "m.inkml")
    with pytest.raises(DataError, match="no <trace>"):
        ink.read("<ink></ink>")
    with pytest.raises(DataError, match="point 1"):
        ink.read("<ink><trace>1 2, 3</trace></ink>")


# ------------------------------------------------------------------------------------- IAM-OnDB XML
def iam_xml(strokes):
    rows = ["<WhiteboardCaptureSession><StrokeSet>"]
    for s in strokes:
        rows.append("<Stroke>" + "".join(f'<Point x="{x}" y="{y}" time="1.0"/>' for x, y in s) + "</Stroke>")
    return ("\n".join(rows) + "</StrokeSet></WhiteboardCaptureSession>").encode()


def test_iam_xml_is_normalised_exactly_as_the_training_lines():
    strokes = [[(100 + 7 * i, 200 + (i % 5) * 9) for i in range(25)], [(400, 150), (405, 160), (700, 900)]]
    k = ink.read(iam_xml(strokes), "a01-000u-01.xml")
    assert k.units == "iam"
    got = ink.normalise(k, scale=50.0)
    d, eos, _ = iam.strokes_to_offsets([np.array(s) for s in strokes], **{
        k_: iam.DEFAULTS[k_] for k_ in ("stride", "rdp_eps", "clip", "clip_up")})
    np.testing.assert_allclose(got[:, :2], d / 50.0, rtol=1e-6)
    np.testing.assert_array_equal(got[:, 2], eos)
    assert got[0, :2].tolist() == [0, 0]


# --------------------------------------------------------------------------------------- normalising
def test_resample_stroke():
    xy = np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0]])
    r = ink.resample_stroke(xy, 1.0)
    assert len(r) == 11 and np.allclose(np.diff(r[:, 0]), 1.0) and r[-1].tolist() == [10, 0]
    assert ink.resample_stroke(np.array([[3.0, 4.0]]), 1.0).tolist() == [[3, 4]]
    assert len(ink.resample_stroke(np.array([[0.0, 0.0], [0.5, 0.0]]), 1.0)) == 2


def test_unknown_units_match_the_training_statistics():
    text = "minimum"
    s3 = ink.normalise(ink.from_points(wavy()), text)
    assert s3.dtype == np.float32 and s3[0, :2].tolist() == [0, 0]
    assert s3[:, 2].sum() == 3 and s3[-1, 2] == 1                          # one eos per stroke
    p = to_absolute(s3)
    assert np.ptp(p[:, 0]) / len(text) == pytest.approx(ink.WIDTH_PER_CHAR, rel=1e-4)
    up = np.concatenate([[True], s3[:-1, 2] > 0.5])
    steps = np.hypot(s3[~up, 0], s3[~up, 1])
    assert steps.mean() == pytest.approx(ink.STEP, rel=0.15)      # chords of a curve: a little shorter
    no_time = [[p[:2] for p in s] for s in wavy()]                      # evenly spaced along the strokes
    s3 = ink.normalise(ink.from_points(no_time), text)
    up = np.concatenate([[True], s3[:-1, 2] > 0.5])
    assert np.median(np.hypot(s3[~up, 0], s3[~up, 1])) == pytest.approx(ink.STEP, rel=0.05)


def test_time_stamps_keep_the_speed_profile():
    x = np.linspace(0, 100, 201)
    t = np.where(x < 50, x * 4, 200 + (x - 50))                          # slow first half, fast second half
    s3 = ink.normalise(ink.from_points([np.stack([x, 0 * x, t], 1)]), "abcdefghij")
    p = to_absolute(s3)[:, 0]
    slow, fast = (p < p.max() / 2).sum(), (p >= p.max() / 2).sum()
    assert slow > 3 * fast
    synthetic = np.stack([x, 0 * x, np.zeros_like(x)], 1)                # all events at one instant
    even = to_absolute(ink.normalise(ink.from_points([synthetic]), "abcdefghij"))[:, 0]
    assert abs((even < even.max() / 2).sum() - (even >= even.max() / 2).sum()) <= 1


def test_unknown_units_do_not_depend_on_size_position_or_event_rate():
    a = ink.normalise(ink.from_points(wavy()), "minimum")
    b = ink.normalise(ink.from_points(wavy(x0=500, scale=3.7)), "minimum")
    np.testing.assert_allclose(a, b, atol=1e-4)
    c = ink.normalise(ink.from_points(wavy(density=5)), "minimum")      # 5x the pointer events
    assert abs(len(c) - len(a)) <= 0.03 * len(a)
    np.testing.assert_allclose(np.ptp(to_absolute(c), 0), np.ptp(to_absolute(a), 0), rtol=0.02)


def test_without_a_transcript_the_height_is_matched():
    s3 = ink.normalise(ink.from_points(wavy()))
    y = to_absolute(s3)[:, 1]
    assert np.percentile(y, 95) - np.percentile(y, 5) == pytest.approx(ink.HEIGHT, rel=0.1)   # on the raw points
    assert len(ink.normalise(ink.from_points([[[5, 5]]]), "a")) == 1      # a single point stays one point


def test_flip_y():
    s = ink.normalise(ink.from_points(wavy()), "minimum")
    f = ink.normalise(ink.from_points(wavy()), "minimum", flip_y=True)
    np.testing.assert_allclose(f[:, 1], -s[:, 1], atol=1e-6)


# ----------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def cache(data_dir):
    if not CACHE.exists():
        pytest.skip(f"no IAM-OnDB cache at {CACHE} (build it: experiments/handwriting.py prep)")
    return iam.load_cache(CACHE)


def test_constants_are_the_training_lines_statistics(cache):
    st = ink.ink_statistics(cache, cache.train_idx[::4])
    assert st["width_per_char"] == pytest.approx(ink.WIDTH_PER_CHAR, rel=0.03)
    assert st["step"] == pytest.approx(ink.STEP, rel=0.03)
    assert st["height"] == pytest.approx(ink.HEIGHT, rel=0.03)
    assert cache.scale == pytest.approx(ink.IAM_SCALE, rel=1e-5)


def test_a_real_iam_file_equals_its_cache_line(cache, data_dir):
    ids = {k: i for i, k in enumerate(cache.ids)}
    with tarfile.open(data_dir / "iam-ondb" / iam.STROKES_ARCHIVE, "r|gz") as tf:
        for m in tf:
            key = m.name.rsplit("/", 1)[-1].removesuffix(".xml")
            if m.isfile() and key in ids:
                k = ink.read(tf.extractfile(m).read(), m.name)
                break
    ref = cache.strokes[ids[key]]
    np.testing.assert_allclose(ink.normalise(k, scale=cache.scale), ref, atol=1e-5)
    k.units = None              # the same line as a user's file: about as many points per character
    s3 = ink.normalise(k, cache.texts[ids[key]], scale=cache.scale)
    assert 0.6 < len(s3) / len(ref) < 1.6
