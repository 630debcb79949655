"""The demo's HTTP server in-process on a free port: every tab's bad input gets a clear message (status
400, JSON ``error``), faults give one line without a traceback, and the server keeps serving."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from jaxseq.demo import server, service


@pytest.fixture(scope="module")
def url():
    httpd = server.make_server(0)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield "http://%s:%d" % httpd.server_address[:2]
    httpd.shutdown()
    httpd.server_close()


def post(url, action, body, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}/api/{action}", data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def alive(url):
    with urllib.request.urlopen(f"{url}/health", timeout=10) as r:
        return json.loads(r.read())["ok"]


def test_binds_loopback_and_serves_the_page(url):
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url + "/", timeout=10) as r:
        page = r.read().decode()
    for tab in ("Handwriting", "Sketch-RNN", "Translate", 'id="pad"', 'id="sk-pad"'):
        assert tab in page


WAVE = [[[10 + 3 * i, 50 + 12 * np.sin(i / 2), 8 * i] for i in range(60)]]


@pytest.mark.parametrize("action, body, words", [
    ("handwriting", {"text": "   "}, ["Type some text"]),
    ("handwriting", {"text": "a" * 2000}, ["2000 characters", "at most"]),
    ("handwriting", {"text": "hi", "bias": "lots"}, ["bias"]),
    ("handwriting", {"text": "hi", "style": 99}, ["style 99"]),
    ("pad_style", {"strokes": [], "text": "hi"}, ["empty"]),
    ("pad_style", {"strokes": [[[5, 5, 0]]], "text": "hi"}, ["points", "at least"]),
    ("pad_style", {"strokes": WAVE, "text": ""}, ["transcript"]),
    ("pad_style", {"strokes": WAVE, "text": "mmm€"}, ["does not know", "€"]),
    ("pad_style", {"strokes": [[[1, "x", 0]]], "text": "hi"}, ["stroke 0"]),
    ("sketch_complete", {"strokes": [[[5, 5, 0]]]}, ["single point"]),
    ("sketch_complete", {"strokes": [[[i % 300, (i * 7) % 300, i] for i in range(10_000)]]}, ["10000 points"]),
    ("sketch_complete", {"strokes": WAVE, "model": "cat"}, ["choose one of"]),
    ("sketch_sample", {"temperature": 0}, ["temperature"]),
    ("translate", {"text": ""}, ["Type an English sentence"]),
    ("translate", {"text": "x" * 1000}, ["1000 characters"]),
])
def test_bad_input_gets_a_clear_message(url, action, body, words):
    status, out = post(url, action, body)
    assert status == 400, out
    assert set(out) == {"error"} and "Traceback" not in out["error"]
    for w in words:
        assert w in out["error"], out["error"]
    assert alive(url)


def test_malformed_requests(url):
    assert post(url, "handwriting", None, raw=b"not json")[0] == 400
    assert post(url, "handwriting", None, raw=b"[1, 2]")[0] == 400
    status, out = post(url, "nope", {})
    assert status == 404 and "unknown action" in out["error"]
    assert alive(url)


def test_a_fault_is_one_line_and_the_server_goes_on(url, monkeypatch):
    def boom(models, req):
        raise RuntimeError("secret internal detail")
    monkeypatch.setitem(service.ACTIONS, "translate", boom)
    status, out = post(url, "translate", {"text": "hi"})
    assert status == 500 and "RuntimeError" in out["error"] and "secret" not in out["error"]
    assert alive(url)


def test_unknown_characters_are_written_with_a_warning(url):
    status, out = post(url, "handwriting", {"text": "Zoë", "style": 0})
    assert status == 200, out
    assert "<path" in out["svg"] and "animate" in out["svg_animated"]
    assert any("'ë' -> 'e'" in w and "charset" in w for w in out["warnings"]), out["warnings"]
