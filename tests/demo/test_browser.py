"""The demo in a real browser: headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by
Selenium, against ``python -m jaxseq.demo`` started on a free port. Writes text, draws a line on the pad
with synthetic pointer events (a real handwritten line: one of the checkpoint's priming lines, replayed
as pen moves) and writes in that hand, completes a started sheep, samples and interpolates, translates a
sentence, checks bad input
shows a message, and takes screenshots (``$JAXSEQ_DEMO_SCREENSHOTS`` or the test's tmp folder).

Slow (model compilation on a CPU: about two minutes): ``pytest -m slow tests/demo/test_browser.py``;
``.ci/run`` runs it. Skipped with the reason when Selenium or Chromium is missing."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
WAIT = 300      # seconds for a first click (the models compile on first use)


def _browser_paths():
    chrome = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                  None)
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver") if os.path.exists(p)), None)
    return chrome, driver


@pytest.fixture(scope="module")
def demo_url():
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "jaxseq.demo", "--port", "0"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url, lines, t0 = None, [], time.time()
    while url is None and time.time() - t0 < 120:
        line = p.stdout.readline()
        if not line and p.poll() is not None:
            break
        lines.append(line)
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        url = m.group(1) if m else None
    if url is None:
        p.kill()
        pytest.fail("the demo did not start:\n" + "".join(lines[-30:]))
    yield url
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: pip install -e '.[demo]'")
    chrome, driver = _browser_paths()
    if chrome is None or driver is None:
        pytest.skip("Chromium not found (Debian: apt-get install chromium chromium-driver); the browser test "
                    "needs the system browser and its driver")
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1200,1000"):
        opts.add_argument(a)
    try:
        b = webdriver.Chrome(options=opts, service=Service(driver))
    except Exception as e:     # noqa: BLE001: a browser that cannot start is an environment problem
        pytest.skip(f"Chromium would not start under Selenium ({type(e).__name__}: {str(e)[:200]})")
    b.set_script_timeout(30)
    yield b
    b.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    d = Path(os.environ.get("JAXSEQ_DEMO_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


DRAW_JS = """
const [id, strokes] = arguments;
const c = document.getElementById(id), r = c.getBoundingClientRect();
const fire = (type, x, y) => c.dispatchEvent(new PointerEvent(type, {clientX: r.left + x, clientY: r.top + y,
    pointerId: 1, pointerType: 'pen', isPrimary: true, bubbles: true, cancelable: true, pressure: 0.5}));
for (const s of strokes) {
  fire('pointerdown', s[0][0], s[0][1]);
  for (const p of s.slice(1)) fire('pointermove', p[0], p[1]);
  fire('pointerup', s[s.length - 1][0], s[s.length - 1][1]);
}
return document.getElementById(id) ? true : false;
"""


def to_pad(stroke3, width, height, margin=10):
    """A stroke-3 drawing as pad-pixel polylines fitted into ``width`` x ``height``."""
    from jaxseq.data.strokes import split_strokes
    polys = split_strokes(np.asarray(stroke3, np.float64))
    allp = np.concatenate(polys)
    lo, hi = allp.min(0), allp.max(0)
    k = min((width - 2 * margin) / max(hi[0] - lo[0], 1e-6), (height - 2 * margin) / max(hi[1] - lo[1], 1e-6))
    return [((p - lo) * k + margin).round(1).tolist() for p in polys]


def wait_for(b, css, count=1, timeout=WAIT):
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(b, timeout).until(lambda d: len(d.find_elements("css selector", css)) >= count)
    return b.find_elements("css selector", css)


def message(b, id_):
    el = b.find_element("id", id_)
    return el.text if el.is_displayed() else ""


def wait_idle(b, button, timeout=WAIT):
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(b, timeout).until(lambda d: d.find_element("id", button).is_enabled())


def test_demo_in_chromium(demo_url, browser, shots):
    from jaxseq import handwriting, sketch_rnn
    b = browser
    b.get(demo_url)
    assert b.title == "jaxseq demo"
    wait_for(b, "#hw-style option[value='3']", timeout=120)

    # 1. type text, wait for an SVG with strokes
    box = b.find_element("id", "hw-text")
    box.clear()
    box.send_keys("hello from a browser")
    b.find_element("id", "hw-write").click()
    paths = wait_for(b, "#hw-out svg path", 3)
    wait_idle(b, "hw-write")
    assert len(paths) >= 3 and message(b, "hw-msg") == ""
    assert b.find_element("id", "hw-dl-svg").get_attribute("href").startswith("data:image/svg+xml")

    # 2. bad input: empty text and a one-point drawing get a visible message, no traceback
    box.clear()
    b.find_element("id", "hw-write").click()
    wait_idle(b, "hw-write")
    assert "Type some text" in message(b, "hw-msg")
    b.execute_script(DRAW_JS, "pad", [[[50, 50]]])
    b.find_element("id", "pad-text").send_keys("hello")
    b.find_element("id", "pad-use").click()
    wait_idle(b, "pad-use")
    assert "points" in message(b, "pad-msg")
    b.find_element("id", "pad-clear").click()

    # 3. draw a real handwritten line on the pad with pointer events, give its transcript, write in that hand
    hand = handwriting.load()
    strokes, text = hand.prime(7)        # the longest shipped line
    pad = b.find_element("id", "pad")
    b.execute_script(DRAW_JS, "pad", to_pad(strokes, pad.size["width"], pad.size["height"]))
    t = b.find_element("id", "pad-text")
    t.clear()
    t.send_keys(text)
    box.send_keys("written in my own hand")
    b.find_element("id", "pad-use").click()
    wait_for(b, "#pad-preview svg path", 3)
    wait_idle(b, "pad-use")
    assert b.find_element("id", "hw-style").get_attribute("value") == "mine"
    wait_idle(b, "hw-write")
    assert message(b, "pad-msg") == "" and message(b, "hw-msg") == "", (message(b, "pad-msg"), message(b, "hw-msg"))
    assert "written in my own hand" in b.find_element("css selector", "#hw-out svg title").get_attribute(
        "textContent")
    b.save_screenshot(str(shots / "demo_handwriting.png"))

    # 4. complete a started sketch
    b.find_element("id", "tab-sk").click()
    sheep = sketch_rnn.load("sheep").examples[1]
    half = sheep[:len(sheep) // 2]
    skpad = b.find_element("id", "sk-pad")
    b.execute_script(DRAW_JS, "sk-pad", to_pad(half, skpad.size["width"], skpad.size["height"], 40))
    b.find_element("id", "sk-complete").click()
    wait_for(b, "#sk-completions svg", 4)
    wait_idle(b, "sk-complete")
    assert message(b, "sk-msg") == ""
    b.find_element("id", "sk-sample").click()
    wait_for(b, "#sk-samples svg", 6)
    wait_idle(b, "sk-sample")
    b.find_element("id", "sk-interp").click()
    wait_for(b, "#sk-interp-out svg", 7)
    wait_idle(b, "sk-interp")
    assert message(b, "sk-msg") == ""
    b.save_screenshot(str(shots / "demo_sketch.png"))

    # 5. translate one sentence, with its attention heatmap
    b.find_element("id", "tab-tr").click()
    src = b.find_element("id", "tr-text")
    src.clear()
    src.send_keys("I am cold.")
    b.find_element("id", "tr-go").click()
    wait_for(b, "#tr-heat svg rect", 4)
    wait_idle(b, "tr-go")
    assert b.find_element("id", "tr-out").text.strip() and message(b, "tr-msg") == ""
    b.save_screenshot(str(shots / "demo_translate.png"))
    assert "Traceback" not in b.page_source
