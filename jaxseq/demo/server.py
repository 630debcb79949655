"""The demo's web server: Python's own ``http.server`` on 127.0.0.1, one HTML page and JSON actions.

Why not Gradio: the stroke pad must record the pen's trajectory (pointer events with time stamps), and a
raster sketchpad loses it; in Gradio that means a custom component (a Svelte front end built with node)
on top of a large dependency tree. Plain HTML/JS does pointer capture in a few lines, the server needs
nothing beyond the standard library, the page is easy to drive from a real browser in tests, and the core
install stays as it is.

``GET /`` serves the page (``static/``); ``POST /api/<action>`` takes a JSON object and answers JSON:
the action's result, or ``{"error": message}`` with status 400 for bad input (a message the page shows)
and 500 for a fault (a one-line message; the traceback goes to the server's log, never to the page).
The server always binds to the loopback interface: it runs models for whoever can reach it.
"""
from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from jaxseq.demo import service
from jaxseq.errors import DataError

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
STATIC = Path(__file__).resolve().parent / "static"
FILES = {"/": ("index.html", "text/html; charset=utf-8"), "/app.js": ("app.js", "text/javascript; charset=utf-8"),
         "/style.css": ("style.css", "text/css; charset=utf-8")}
MAX_BODY = 4 * 2 ** 20     # bytes of one request (a 20,000-point line is about 1 MB of JSON)


class Handler(BaseHTTPRequestHandler):
    server_version = "jaxseq-demo"
    models: service.Models = None      # set by make_server

    def log_message(self, fmt, *args):
        log.debug("%s " + fmt, self.address_string(), *args)

    def _send(self, status, body: bytes, ctype="application/json; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status, obj):
        self._send(status, json.dumps(obj).encode("utf-8"))

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            return self._json(HTTPStatus.OK, {"ok": True})
        if path not in FILES:
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})
        name, ctype = FILES[path]
        self._send(HTTPStatus.OK, (STATIC / name).read_bytes(), ctype)

    def do_POST(self):
        action = self.path.split("?", 1)[0].removeprefix("/api/")
        fn = service.ACTIONS.get(action)
        if fn is None:
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"unknown action {action!r}"})
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if not 0 < n <= MAX_BODY:
            return self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE if n > MAX_BODY else HTTPStatus.BAD_REQUEST,
                              {"error": f"The request is too large ({n} bytes; at most {MAX_BODY}). Draw or "
                                        f"type less." if n > MAX_BODY else "An empty request."})
        try:
            req = json.loads(self.rfile.read(n))
            if not isinstance(req, dict):
                raise ValueError("expected a JSON object")
        except (ValueError, UnicodeDecodeError) as e:
            return self._json(HTTPStatus.BAD_REQUEST, {"error": f"The request is not valid JSON ({e})."})
        try:
            return self._json(HTTPStatus.OK, fn(self.models, req))
        except (ValueError, TypeError, DataError) as e:       # bad input: the message is for the user
            return self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
        except Exception as e:                                 # a fault: logged here, one line there
            log.exception("demo action %s failed", action)
            return self._json(HTTPStatus.INTERNAL_SERVER_ERROR,
                              {"error": f"Something went wrong on the server ({type(e).__name__}); it keeps "
                                        f"running, and its log has the details."})


def make_server(port=8000, models=None) -> ThreadingHTTPServer:
    """A server bound to ``127.0.0.1:port`` (0: a free port; see ``server.server_address``)."""
    handler = type("DemoHandler", (Handler,), {"models": models or service.Models()})
    server = ThreadingHTTPServer((HOST, int(port)), handler)
    server.daemon_threads = True
    return server


def warm_up(models: service.Models):
    """Load the checkpoints and compile the common shapes in the background, so the first clicks are
    fast (errors are logged: a broken checkpoint shows up when its tab is used)."""
    def run():
        for name, req in (("handwriting", {"text": "hello world, this is jaxseq", "style": 0}),   # the page's
                          ("sketch_sample", {"model": "sheep", "n": 6}),                            # defaults
                          ("translate", {"text": "I am cold."})):
            try:
                service.ACTIONS[name](models, req)
            except Exception:   # noqa: BLE001: warm-up is best effort; the page reports real errors
                log.exception("warm-up of %s failed", name)
        log.info("warm-up done")
    t = threading.Thread(target=run, name="demo-warm-up", daemon=True)
    t.start()
    return t
