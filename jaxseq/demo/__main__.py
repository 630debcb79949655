"""``python -m jaxseq.demo [--port 8000] [--no-warm-up]``: serve the demo on 127.0.0.1 until Ctrl-C."""
from __future__ import annotations

import argparse
import logging
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m jaxseq.demo", description=__doc__,
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--no-warm-up", action="store_true",
                    help="do not load the checkpoints and compile the first shapes at start")
    a = ap.parse_args(argv)
    if not 0 <= a.port <= 65535:
        ap.error(f"--port {a.port}: give 0..65535")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("absl").setLevel(logging.WARNING)      # orbax logs every checkpoint read
    from jaxseq import compile_cache
    from jaxseq.demo import server, service
    compile_cache.enable()       # a second start skips most XLA compilation
    models = service.Models()
    try:
        httpd = server.make_server(a.port, models)
    except OSError as e:
        print(f"error: cannot listen on {server.HOST}:{a.port} ({e.strerror}); try another --port", file=sys.stderr)
        return 2
    if not a.no_warm_up:
        server.warm_up(models)
    host, port = httpd.server_address[:2]
    print(f"jaxseq demo on http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
