"""Cold-start latency of the sampling commands, with and without the persistent compilation cache.

    python benchmarks/cold_start.py --reps 3 --out runs/bench/cold_start.json

Each row is the wall time of one whole ``python experiments/...`` process (import, checkpoint read,
compilation, sampling, writing the file), as a user types it:

- ``no cache``: ``JAXSEQ_COMPILE_CACHE=0``, i.e. what every run cost before the cache existed;
- ``first run``: an empty cache folder (compiles and writes the cache);
- ``second run``: the same command again (reads the compiled programs);
- ``other text``: the cache filled by the first text, then a different text of another length (reuses
  the compiled program only if the shapes are bucketed).

Median and minimum over ``--reps`` repetitions (each repetition starts from a fresh cache folder).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = {
    "handwriting": (["experiments/handwriting.py", "generate", "--text", "hello world", "--out", "{tmp}/a.svg"],
                    ["experiments/handwriting.py", "generate", "--text", "the quick brown fox jumps",
                     "--out", "{tmp}/b.svg"]),
    "sketch_rnn": (["experiments/sketch_rnn.py", "sample", "--n", "4", "--out", "{tmp}/a.png"],
                   ["experiments/sketch_rnn.py", "sample", "--n", "4", "--seed", "1", "--out", "{tmp}/b.png"]),
    "nmt": (["experiments/nmt_luong.py", "--translate", "I'm cold."],
            ["experiments/nmt_luong.py", "--translate", "She is reading a very long book in the garden."]),
}


def run(args, tmp, cache):
    env = dict(os.environ, JAXSEQ_COMPILE_CACHE=cache, MPLBACKEND="Agg")
    cmd = [sys.executable] + [a.format(tmp=tmp) for a in args]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="repetitions per row (median and min reported)")
    ap.add_argument("--only", default=",".join(COMMANDS), help="comma-separated commands to time")
    ap.add_argument("--out", default="runs/bench/cold_start.json", help="JSON results file")
    a = ap.parse_args()
    results = {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "rows": {}}
    for name in a.only.split(","):
        first, other = COMMANDS[name]
        rows = {"no cache": [], "first run": [], "second run": [], "other text": []}
        for _ in range(a.reps):
            with tempfile.TemporaryDirectory() as tmp:
                cache = str(Path(tmp) / "xla")
                rows["no cache"].append(run(first, tmp, "0"))
                rows["first run"].append(run(first, tmp, cache))
                rows["second run"].append(run(first, tmp, cache))
                rows["other text"].append(run(other, tmp, cache))
        results["rows"][name] = {k: {"median_s": statistics.median(v), "min_s": min(v), "all_s": v}
                                 for k, v in rows.items()}
        for k, v in results["rows"][name].items():
            print(f"{name:12s} {k:11s} median {v['median_s']:6.2f} s  min {v['min_s']:6.2f} s")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
