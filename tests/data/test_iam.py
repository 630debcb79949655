"""IAM-OnDB parser and preprocessing on a handmade archive, plus a smoke test on the real one."""
import io
import tarfile
import time

import numpy as np
import pytest

from jaxseq.data import iam
from jaxseq.errors import DataError

T0 = 15_000_000.0          # absolute clock, as on most real forms


def _xml(strokes, t0=T0):
    out = ['<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>\n  <StrokeSet>']
    t = t0
    for s in strokes:
        out.append(f'    <Stroke colour="black" start_time="{t:.2f}" end_time="{t + 1:.2f}">')
        for x, y in s:
            out.append(f'      <Point x="{x}" y="{y}" time="{t:.2f}"/>')
            t += 0.01
        out.append("    </Stroke>")
    out.append("  </StrokeSet>\n</WhiteboardCaptureSession>\n")
    return "\n".join(out).encode("latin-1")


def _ascii(lines):
    return ("OCR:\n\n" + "\n".join(lines) + "\n\nCSR:\n\n" + "\r\n".join(lines) + "\r\n").encode()


def _add(tf, name, data):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))


def _stroke(n, x0=0, y0=0, dx=3, dy=1):
    return [(x0 + dx * i, y0 + dy * (i % 4)) for i in range(n)]


def _make_archives(tmp_path, forms):
    """forms: {form id: (list of text lines, list of xml bytes)} -> the two archive paths."""
    sp, ap = tmp_path / "lineStrokes-all.tar.gz", tmp_path / "ascii-all.tar.gz"
    with tarfile.open(sp, "w:gz") as ts, tarfile.open(ap, "w:gz") as ta:
        for form, (texts, xmls) in forms.items():
            d = f"{form[:3]}/{form[:7]}"
            if texts is not None:
                _add(ta, f"ascii/{d}/{form}.txt", _ascii(texts))
            for i, x in enumerate(xmls, 1):
                _add(ts, f"lineStrokes/{d}/{form}-{i:02d}.xml", x)
    return sp, ap


@pytest.fixture
def tiny(tmp_path):
    good = [_xml([_stroke(20), _stroke(15, 100, 5)], T0 + 10 * k) for k in range(3)]
    forms = {
        "a01-000u": (["first line", "second line", "third line"], good),
        # line 2 malformed, line 3 has no strokes: both reported, form still aligned
        "a01-001z": (["ok line", "broken", "empty"],
                     [_xml([_stroke(30)], T0 + 100), b"<WhiteboardCaptureSession><StrokeSet><Stroke>",
                      _xml([[]], T0 + 120)]),
        # two text lines for three stroke files: cannot align -> whole form dropped
        "a01-002z": (["one", "two"], [_xml([_stroke(12)], T0 + 200)] * 3),
        # no transcription file at all
        "b02-000z": (None, [_xml([_stroke(12)], T0 + 300)]),
        # too short after down-sampling
        "b02-001z": (["short"], [_xml([_stroke(3)], T0 + 400)]),
    }
    return _make_archives(tmp_path, forms)


def test_parser_reports_drops(tiny):
    recs, drops, notes = iam.parse_archives(*tiny, stride=1, clip=None, min_points=5, progress=False)
    ids = [r["id"] for r in recs]
    assert ids == ["a01-000u-01", "a01-000u-02", "a01-000u-03", "a01-001z-01"]
    assert [r["text"] for r in recs] == ["first line", "second line", "third line", "ok line"]
    assert drops == {"malformed XML": 1, "empty stroke set": 1, "text/stroke line count mismatch in form": 3,
                     "no transcription file": 1, "fewer than 5 points": 1}
    assert notes["text lines without usable strokes"] == 2
    assert notes["drop examples"]["malformed XML"] == ["a01-001z-02"]
    # stroke-3 content: first row at the origin, eos on the last point of each stroke, exact offsets
    r = recs[0]
    assert r["offsets"].shape == (35, 2) and np.array_equal(r["offsets"][0], [0, 0])
    assert np.flatnonzero(r["eos"]).tolist() == [19, 34]
    pts = np.array(_stroke(20) + _stroke(15, 100, 5))
    np.testing.assert_array_equal(np.cumsum(r["offsets"], 0) + pts[0], pts)


def test_build_and_load_cache(tiny, tmp_path):
    out = iam.build_cache(archives=tiny, out_path=tmp_path / "c.npz", stride=2, min_points=5,
                          valid_fraction=0.0, progress=False)
    lines = iam.load_cache(out)
    assert len(lines) == 4 and lines.ids[3] == "a01-001z-01" and lines.texts[0] == "first line"
    assert lines.info["drops"]["malformed XML"] == 1 and lines.info["settings"]["stride"] == 2
    # stride 2 keeps every other point plus each stroke's last point: 20 -> 10 + 1, 15 -> 8
    assert len(lines.strokes[0]) == 11 + 8 and lines.strokes[0].dtype == np.float32
    assert np.flatnonzero(lines.strokes[0][:, 2]).tolist() == [10, 18]
    # normalisation: offsets * scale are the integer sensor offsets again; train offsets have std 1
    s0 = lines.strokes[0][:, :2] * lines.scale
    np.testing.assert_allclose(s0, np.round(s0), atol=1e-3)
    allo = np.concatenate([s[:, :2] for s in lines.strokes]).astype(np.float64)
    assert abs(allo.std() - 1.0) < 1e-5
    b = iam.batches(lines, [0, 3], 32, encode=lambda t: [ord(c) for c in t])
    assert b["strokes"].shape == (2, 32, 3) and b["mask"].sum() == len(lines.strokes[0]) + len(lines.strokes[3])
    assert b["text"].shape == (2, 10) and b["text_mask"][1].sum() == len("ok line")
    assert b["text"][1, 0] == ord("o")
    with pytest.raises(ValueError, match="a01-000u-01"):
        iam.batches(lines, [0], 5)


def test_load_rebuilds_on_other_settings(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(iam, "find_archives", lambda data_dir=None: tiny)
    p = tmp_path / "c.npz"
    a = iam.load(cache_path=p, stride=1, min_points=5, valid_fraction=0.0, progress=False)
    b = iam.load(cache_path=p, progress=False)                       # no settings: reuse what is there
    assert b.info["settings"]["stride"] == 1 and len(a.strokes[0]) == len(b.strokes[0]) == 35
    c = iam.load(cache_path=p, stride=2, min_points=5, valid_fraction=0.0, progress=False)
    assert len(c.strokes[0]) == 19
    with pytest.raises(TypeError, match="strid"):
        iam.load(cache_path=p, strid=3)


def test_missing_and_corrupt_archives(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXSEQ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "nocache"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="registration.*University of Bern"):
        iam.find_archives(tmp_path / "empty")
    with pytest.raises(DataError, match="nowhere does not exist"):    # a missing data dir is named
        iam.find_archives(tmp_path / "nowhere")
    bad = tmp_path / "iam-ondb"
    bad.mkdir()
    (bad / iam.STROKES_ARCHIVE).write_bytes(b"this is not a gzip file")
    (bad / iam.ASCII_ARCHIVE).write_bytes(b"neither is this")
    with pytest.raises(DataError, match="ascii-all.tar.gz"):
        iam.build_cache(tmp_path, tmp_path / "c.npz", progress=False)
    with pytest.raises(DataError, match="cache not found"):
        iam.load_cache(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="not a valid IAM-OnDB cache"):
        iam.load_cache(tmp_path / "junk.npz")


def test_coordinate_overflow_is_one_dropped_line(tmp_path):
    """A sensor glitch like x=1e23 drops that line (counted), not the whole build."""
    huge = _xml([_stroke(20)]).replace(b'x="9"', b'x="' + str(10 ** 23).encode() + b'"', 1)
    big = _xml([_stroke(20)]).replace(b'x="9"', b'x="' + str(10 ** 12).encode() + b'"', 1)
    good = _xml([_stroke(20), _stroke(15, 100, 5)], T0 + 10)
    arch = _make_archives(tmp_path, {"a01-000u": (["ok", "huge", "big"], [good, huge, big])})
    recs, drops, notes = iam.parse_archives(*arch, stride=1, min_points=5, progress=False)
    assert [r["id"] for r in recs] == ["a01-000u-01"]
    assert drops == {"coordinate out of range": 2}
    assert notes["drop examples"]["coordinate out of range"] == ["a01-000u-02", "a01-000u-03"]
    out = iam.build_cache(archives=arch, out_path=tmp_path / "c.npz", stride=1, min_points=5,
                          valid_fraction=0.0, progress=False)
    assert iam.load_cache(out).info["drops"] == {"coordinate out of range": 2}


def test_truncated_cache_names_the_file(tiny, tmp_path):
    out = iam.build_cache(archives=tiny, out_path=tmp_path / "c.npz", stride=2, min_points=5,
                          valid_fraction=0.0, progress=False)
    assert iam.load_cache(out).info["cache"] == str(out)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cut.npz: not a valid IAM-OnDB cache"):
        iam.load_cache(cut)


def test_parse_line_xml_errors_and_fallback():
    with pytest.raises(DataError, match=r"f\.xml: malformed XML"):
        iam.parse_line_xml(b"<a><b></a>", "f.xml")
    with pytest.raises(DataError, match="non-integer"):
        iam.parse_line_xml(b'<S><StrokeSet><Stroke><Point x="1.5" y="2"/></Stroke></StrokeSet></S>', "g.xml")
    # attributes in another order go through the ElementTree path and give the same points
    d = b'<S><StrokeSet><Stroke><Point time="3.0" y="2" x="1"/><Point y="5" x="4" time="4.5"/></Stroke>' \
        b'<Stroke></Stroke></StrokeSet></S>'
    strokes, span = iam.parse_line_xml(d)
    assert len(strokes) == 1 and strokes[0].tolist() == [[1, 2], [4, 5]] and span == (3.0, 4.5)


def test_rdp_keeps_endpoints_and_reduces():
    t = np.linspace(0, 1, 200)
    line = np.stack([t * 100, np.zeros_like(t)], 1)
    keep = iam.rdp_mask(line, 0.5)
    assert keep[0] and keep[-1] and keep.sum() == 2                 # a straight line -> its endpoints
    curve = np.stack([t * 100, 20 * np.sin(6 * t)], 1)
    k1, k2 = iam.rdp_mask(curve, 0.1), iam.rdp_mask(curve, 2.0)
    assert k1[0] and k1[-1] and 2 < k2.sum() < k1.sum() < 200
    # every dropped point is within eps of the simplified polyline (the RDP guarantee)
    kept = curve[k2]
    for p in curve[~k2]:
        seg_d = [_dist_to_segment(p, a, b) for a, b in zip(kept[:-1], kept[1:])]
        assert min(seg_d) <= 2.0 + 1e-9
    assert iam.rdp_mask(curve, 0.0).all()


def _dist_to_segment(p, a, b):
    ab, ap = b - a, p - a
    u = np.clip(ap @ ab / max(ab @ ab, 1e-12), 0, 1)
    return np.hypot(*(ap - u * ab))


def test_downsample_keeps_stroke_ends_and_clip():
    xy = np.arange(14).reshape(7, 2)
    assert iam.downsample_stroke(xy, 3).tolist() == xy[[0, 3, 6]].tolist()
    assert iam.downsample_stroke(xy, 4).tolist() == xy[[0, 4, 6]].tolist()
    # pen-down moves clip at `clip`, pen-up moves (into a stroke's first point) at `clip_up`
    strokes = [np.array([[0, 0], [1000, 0]]), np.array([[0, -900], [50, -900]])]
    d, eos, n = iam.strokes_to_offsets(strokes, clip=500, clip_up=800)
    assert d.tolist() == [[0, 0], [500, 0], [-800, -800], [50, 0]] and eos.tolist() == [0, 1, 0, 1]
    assert n == (1, 1)
    d, _, n = iam.strokes_to_offsets(strokes, clip=500)
    assert d.tolist() == [[0, 0], [500, 0], [-1000, -900], [50, 0]] and n == (1, 0)


def test_sessions_and_writer_disjoint_split():
    # three writers x 8 forms on the absolute clock (long breaks between writers), 4 relative-clock forms
    spans, truth = {}, {}
    for w in range(3):
        for f in range(8):
            t0 = T0 + w * 10_000 + f * 200
            spans[f"w{w}f{f}"] = (t0, t0 + 150)
            truth[f"w{w}f{f}"] = w
    for f in range(4):
        spans[f"rel{f}"] = (10.0 * f, 10.0 * f + 100)
    session, eligible = iam.infer_sessions(spans, gap=600)
    for a in truth:
        for b in truth:
            assert (session[a] == session[b]) == (truth[a] == truth[b])
    assert len(eligible) == 3 and all(session[f"rel{f}"] == f"form:rel{f}" for f in range(4))
    # lines: 5 per form; validation takes whole eligible groups only
    forms = [f for f in spans for _ in range(5)]
    writers = [session[f] for f in forms]
    for seed in range(5):
        v = iam.writer_split(writers, eligible, 0.2, seed)
        assert 0 < v.mean() < 0.6
        vw = {w for w, x in zip(writers, v) if x}
        tw = {w for w, x in zip(writers, v) if not x}
        assert not (vw & tw) and vw <= eligible
    assert not iam.writer_split(writers, eligible, 0.0).any()


def test_bucket_batch_fn_deterministic():
    rng = np.random.default_rng(0)
    n = 60
    strokes = [np.concatenate([rng.normal(size=(L, 2)), np.zeros((L, 1))], 1).astype(np.float32)
               for L in rng.integers(5, 40, n)]
    lines = iam.IamLines(strokes, ["ab"] * n, ["w"] * n, [f"x{i}" for i in range(n)],
                         np.zeros(n, bool), 1.0, {})
    fn = iam.bucket_batch_fn(lines, np.arange(n), 4, [10, 20, 30], seed=1)
    for step in range(10):
        b1, b2 = fn(step), fn(step)
        np.testing.assert_array_equal(b1["strokes"], b2["strokes"])
        T = b1["strokes"].shape[1]
        assert T in (10, 20, 30) and b1["mask"].shape == (4, T)
        assert (b1["mask"].sum(1) <= T).all() and (b1["mask"].sum(1) > T - 10).all()


def test_real_first_lines(data_dir):
    """Parse the first ~60 stroke files of the real archive (streamed; no cache)."""
    a = data_dir / "iam-ondb"
    if not (a / iam.STROKES_ARCHIVE).exists():
        pytest.skip(f"IAM-OnDB archives not in {a}")
    t = time.time()
    recs, drops, _ = iam.parse_archives(a / iam.STROKES_ARCHIVE, a / iam.ASCII_ARCHIVE, max_lines=60,
                                        progress=False)
    assert time.time() - t < 60
    assert len(recs) >= 45 and set(drops) <= {"text/stroke line count mismatch in form"}
    for r in recs[:10]:
        assert 50 < len(r["offsets"]) < 1500 and r["eos"][-1] == 1 and len(r["text"]) > 3
        assert 0.5 < len(r["offsets"]) / len(r["text"]) < 40      # points per character is plausible
