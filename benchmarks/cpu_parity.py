"""CPU knobs for issue 15, item 5: ``lax.scan`` unroll and XLA's CPU threading, measured side by side.

    python benchmarks/cpu_parity.py --out runs/bench/cpu_parity.json            # this machine's CPU
    python benchmarks/cpu_parity.py --quick                                     # tiny sizes, a smoke run

Two workloads of docs/benchmarks.md's CPU table, at the sizes used there:
- ``char``: the char-LSTM train step (vocab 66, embedding 64, 2 x 320 LSTM, 128 streams x 128 characters,
  dropout 0.25; fwd + bwd + clip + Adam, the carried state in and out);
- ``hw``: handwriting synthesis sampling, 8 lines x ``--hw-steps`` steps (3 x 400 LSTM, 20 mixtures,
  10 window Gaussians, random params: no line ends early, so every step runs).

Each ``--threads`` setting runs in its own process (XLA reads its flags once): ``default`` (XLA's own),
``1`` (``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``: one thread per op). A
process compiles every unroll of ``--unrolls`` once (compile time recorded), then times them
round-robin, ``--reps`` rounds, so that the load of a shared machine drifts over all of them alike; the
thread settings alternate the same way (``--rounds`` processes each). Each row also reports how far its
value (the loss of the first call, from the same initial state / the sum of the sampled points) lies
from the first unroll's.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

THREADS = {"default": "", "1": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def char_step(a, unroll):
    """A zero-argument call that runs ``a.steps`` char-LSTM train steps and returns the last loss."""
    import functools

    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxseq.models.char_lm import model as cr
    from jaxseq.training import loop
    params = cr.init(jax.random.PRNGKey(0), cr.CharRNNConfig(a.vocab, a.embed, a.hidden, a.layers))
    opt = loop.make_optimizer(loop.TrainConfig(lr=2e-3, clip_norm=5.0))
    step = loop.make_train_step(functools.partial(cr.stream_loss, dropout=0.25, unroll=unroll), opt)
    tokens = jnp.asarray(np.random.default_rng(0).integers(1, a.vocab, (a.batch, a.seq_len + 1)), jnp.int32)
    keep, key = jnp.ones(a.batch), jax.random.PRNGKey(1)
    st = {"p": params, "s": opt.init(params), "c": cr.zeros(params, a.batch)}   # donated: carried on

    def run():
        for i in range(a.steps):
            st["p"], st["s"], m = step(st["p"], st["s"], {"tokens": tokens, "keep": keep, "carry": st["c"]},
                                       jax.random.fold_in(key, i), jnp.int32(i))
            st["c"] = m.pop("carry")
        return float(m["loss"])
    return run


def hw_sampler(a, unroll):
    """A zero-argument call that samples 8 handwriting lines and returns their points' sum."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxseq.models.handwriting import model as hw
    from jaxseq.models.handwriting import sample as hw_sample
    cfg = hw.HWConfig(task="synthesis", hidden=a.hw_hidden, layers=3, n_mix=20, n_gauss=10, vocab=64,
                      kappa_scale=0.05, unroll=unroll)
    params = hw.init(jax.random.PRNGKey(0), cfg)
    n = a.hw_lines
    texts = np.full((n, 64), -1, np.int32)
    texts[:, :63] = np.random.default_rng(0).integers(0, 64, (n, 63))
    args = (params, cfg, jax.random.split(jax.random.PRNGKey(0), n), jnp.asarray(texts), jnp.ones((n,)),
            jnp.ones((n,)), jnp.zeros((n, 0, 3)), jnp.zeros((n,), jnp.int32))

    def run():
        strokes = hw_sample.sample_batch(*args, max_steps=a.hw_steps, return_phi=False)[0]
        return float(jnp.abs(strokes).sum())
    return run


def child(a):
    """One process, one thread setting: compile each unroll, then time them round-robin."""
    import jax
    rows = {}
    for what in a.what.split(","):
        make = {"char": char_step, "hw": hw_sampler}[what]
        fns, first = {}, {}
        for u in a.unrolls:
            t0 = time.perf_counter()
            fns[u] = make(a, u)
            first[u] = fns[u]()   # compiles
            ref = first[a.unrolls[0]]
            rows[f"{what}_u{u}"] = {"compile_and_first_s": time.perf_counter() - t0, "value": first[u],
                                    "rel_diff_vs_first": abs(first[u] - ref) / max(abs(ref), 1e-30),
                                    "times_s": []}
        for _ in range(a.reps):
            for u in a.unrolls:
                t0 = time.perf_counter()
                fns[u]()
                rows[f"{what}_u{u}"]["times_s"].append(time.perf_counter() - t0)
    print(json.dumps({"jax": jax.__version__, "devices": str(jax.devices()), "rows": rows}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--what", default="char,hw", help="workloads: char, hw")
    ap.add_argument("--unrolls", default="1,4,8,16", help="lax.scan unrolls")
    ap.add_argument("--threads", default="default,1", help=f"XLA CPU thread settings: {', '.join(THREADS)}")
    ap.add_argument("--rounds", type=int, default=2, help="processes per thread setting, alternated")
    ap.add_argument("--reps", type=int, default=3, help="timed round-robin rounds per process")
    ap.add_argument("--steps", type=int, default=2, help="char-LSTM train steps per timed call")
    ap.add_argument("--vocab", type=int, default=66)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=320)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--hw-hidden", type=int, default=400)
    ap.add_argument("--hw-lines", type=int, default=8)
    ap.add_argument("--hw-steps", type=int, default=700)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", help="write the results as JSON here")
    a = ap.parse_args(argv)
    a.unrolls = [int(u) for u in a.unrolls.split(",")]
    if a.quick:
        a.hidden, a.embed, a.batch, a.seq_len, a.hw_hidden, a.hw_steps, a.reps = 16, 8, 4, 8, 16, 20, 1
    if a.child:
        return child(a)
    args = [x for x in (argv if argv is not None else sys.argv[1:]) if x not in ("--out",)]
    if a.out:
        i = args.index(a.out)
        args = args[:i] + args[i + 1:]
    runs = {t: [] for t in a.threads.split(",")}
    for _ in range(a.rounds):
        for t in runs:
            env = dict(os.environ, JAX_PLATFORMS="cpu", JAXSEQ_COMPILE_CACHE="0",
                       XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " " + THREADS[t]).strip())
            p = subprocess.run([sys.executable, __file__, "--child"] + args, env=env, capture_output=True,
                               text=True)
            if p.returncode:
                raise SystemExit(f"threads={t} failed:\n{p.stderr[-3000:]}")
            runs[t].append(json.loads(p.stdout.strip().splitlines()[-1]))
    res = {"host": platform.node(), "cpus": os.cpu_count(), "load_avg_end": os.getloadavg(), "config": vars(a),
           "rows": {}}
    for t, outs in runs.items():
        for name in outs[0]["rows"]:
            ts = [x for o in outs for x in o["rows"][name]["times_s"]]
            res["rows"][f"{name}_threads_{t}"] = {
                "median_s": statistics.median(ts), "min_s": min(ts), "times_s": ts,
                "compile_and_first_s": [o["rows"][name]["compile_and_first_s"] for o in outs],
                "rel_diff_vs_first_unroll": max(o["rows"][name]["rel_diff_vs_first"] for o in outs)}
    base = {}
    for name, r in res["rows"].items():
        what = name.split("_")[0]
        base.setdefault(what, r["median_s"])
        steps = a.steps if what == "char" else 1
        print(f"{name:28s} {1e3 * r['median_s'] / steps:9.1f} ms{' per step' if what == 'char' else ''}"
              f"  (x{r['median_s'] / base[what]:.2f} of the first row; compile+first "
              f"{statistics.median(r['compile_and_first_s']):.1f} s; value vs first unroll: "
              f"{r['rel_diff_vs_first_unroll']:.1e})")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
