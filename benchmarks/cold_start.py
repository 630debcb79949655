"""Cold-start latency of the sampling commands, with and without the persistent compilation cache.

    python benchmarks/cold_start.py --reps 3 --out runs/bench/cold_start.json

Each row is the wall time of one whole ``python experiments/...`` process (import, checkpoint read,
compilation, sampling, writing the file), as a user types it:

- ``no cache``: ``JAXSEQ_COMPILE_CACHE=0``, i.e. what every run cost before the cache existed;
- ``first run``: an empty cache folder (compiles and writes the cache);
- ``second run``: the same command again (reads the compiled programs);
- ``other text``: the cache filled by the first text, then a different text of another length in the
  same length bucket (reuses the compiled programs only if the shapes are bucketed; ``nmt_long`` takes
  a sentence of the next source bucket, which compiles its own decoder once).

Median and minimum over ``--reps`` repetitions (each repetition starts from a fresh cache folder), and
the median CPU time (user + system of the process and its threads), which moves less than the wall
time when other processes share the cores.

On a shared machine absolute times drift with the load, so compare source trees in one run:
``--trees OLD,NEW`` (e.g. a ``git worktree`` of an older commit and this checkout) runs every row of a
repetition once in each tree, alternating, each tree with its own cache folder and ``PYTHONPATH``,
and reports the medians per tree and their ratio::

    git worktree add --detach /tmp/base <old commit>
    python benchmarks/cold_start.py --trees /tmp/base,. --reps 7 --only handwriting
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_S = []   # CPU seconds (user + system) of each run, in order: steadier than wall time under load

COMMANDS = {
    "handwriting": (["experiments/handwriting.py", "generate", "--text", "hello world", "--out", "{tmp}/a.svg"],
                    ["experiments/handwriting.py", "generate", "--text", "the quick brown fox jumps",
                     "--out", "{tmp}/b.svg"]),
    "sketch_rnn": (["experiments/sketch_rnn.py", "sample", "--n", "4", "--out", "{tmp}/a.png"],
                   ["experiments/sketch_rnn.py", "sample", "--n", "4", "--seed", "1", "--out", "{tmp}/b.png"]),
    "nmt": (["experiments/nmt_luong.py", "--translate", "I'm cold."],
            ["experiments/nmt_luong.py", "--translate", "Where is the station?"]),   # same length bucket
    "nmt_long": (["experiments/nmt_luong.py", "--translate", "I'm cold."],     # next bucket: compiles once
                 ["experiments/nmt_luong.py", "--translate", "She is reading a very long book in the garden."]),
}


def run(args, tmp, cache, tree=ROOT):
    env = dict(os.environ, JAXSEQ_COMPILE_CACHE=cache, MPLBACKEND="Agg")
    if Path(tree).resolve() != ROOT:   # that tree's jaxseq, not the installed one
        env["PYTHONPATH"] = os.pathsep.join([str(tree)] + [x for x in [env.get("PYTHONPATH")] if x])
    cmd = [sys.executable] + [a.format(tmp=tmp) for a in args]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    CPU_S.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="repetitions per row (median and min reported)")
    ap.add_argument("--only", default="handwriting,sketch_rnn,nmt", help=f"comma-separated commands to time "
                    f"({', '.join(COMMANDS)})")
    ap.add_argument("--out", default="runs/bench/cold_start.json", help="JSON results file")
    ap.add_argument("--trees", default=str(ROOT),
                    help="comma-separated source trees to compare, alternated within each repetition")
    ap.add_argument("--rows", default="no cache,first run,second run,other text", help="rows to time")
    a = ap.parse_args()
    trees = [str(Path(t).resolve()) for t in a.trees.split(",")]
    wanted = a.rows.split(",")
    results = {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "load_avg_start": os.getloadavg(), "trees": trees, "rows": {}}
    for name in a.only.split(","):
        first, other = COMMANDS[name]
        rows = {t: {k: [] for k in wanted} for t in trees}
        cpu = {t: {k: [] for k in wanted} for t in trees}
        for _ in range(a.reps):
            for tree in trees:
                with tempfile.TemporaryDirectory() as tmp:
                    cache = str(Path(tmp) / "xla")
                    r, c = rows[tree], cpu[tree]
                    if "no cache" in r:
                        r["no cache"].append(run(first, tmp, "0", tree))
                        c["no cache"].append(CPU_S[-1])
                    t = run(first, tmp, cache, tree)          # fills the cache
                    if "first run" in r:
                        r["first run"].append(t)
                        c["first run"].append(CPU_S[-1])
                    for k, cmd in (("second run", first), ("other text", other)):
                        if k in r:
                            r[k].append(run(cmd, tmp, cache, tree))
                            c[k].append(CPU_S[-1])
        for tree in trees:
            key = name if len(trees) == 1 else f"{name} @ {tree}"
            results["rows"][key] = {k: {"median_s": statistics.median(v), "min_s": min(v), "all_s": v,
                                        "cpu_median_s": statistics.median(cpu[tree][k]),
                                        "cpu_all_s": cpu[tree][k]}
                                    for k, v in rows[tree].items()}
            for k, v in results["rows"][key].items():
                print(f"{key:12s} {k:11s} median {v['median_s']:6.2f} s  min {v['min_s']:6.2f} s  "
                      f"CPU median {v['cpu_median_s']:6.2f} s")
        if len(trees) > 1:
            for k in wanted:
                m = [statistics.median(rows[t][k]) for t in trees]
                c = [statistics.median(cpu[t][k]) for t in trees]
                print(f"{name:12s} {k:11s} last/first tree: wall x{m[-1] / m[0]:.3f}, CPU x{c[-1] / c[0]:.3f}")
    results["load_avg_end"] = os.getloadavg()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
