"""Entry-point wrapper for the experiment scripts: user errors end with one clear line, not a traceback."""
from __future__ import annotations

import sys

from jaxseq.data import DataError


def run(main):
    """Call ``main()``; a :class:`DataError` or a missing file exits with status 2 and its message
    (which names the file and what to do). Anything else is a bug and keeps its traceback."""
    try:
        return main()
    except (DataError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
