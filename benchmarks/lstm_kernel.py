"""One LSTM layer: ``lax.scan`` (``scan.run``) against the fused Pallas kernel (``jaxseq.nn.fused_lstm``).

    python benchmarks/lstm_kernel.py --part scan  --out runs/bench/lstm_scan.json    # GPU
    python benchmarks/lstm_kernel.py --part fused --out runs/bench/lstm_fused.json   # GPU
    python benchmarks/lstm_kernel.py --part torch --out runs/bench/lstm_torch.json   # GPU, cuDNN peer
    python benchmarks/lstm_kernel.py --part profile --out runs/bench/lstm_profile.json  # traces, summarised
    python benchmarks/lstm_kernel.py --quick --part all                               # CPU smoke run

The shape of issue 15: H = 400, input 403, batch 64, 700 steps; "fwd+bwd" is the gradient of
``sum(ys * w)`` with respect to the layer's params and its input (the input projection included), "fwd"
is ``ys``. Also a sampling-like shape (batch ``--big-batch``, forward only), bf16 weights, the
"matmul + tanh" scan floor, a T sweep (per-step cost = slope) and, for every fused variant, its error
on the GPU against a float32-HIGHEST scan (TF32 rounding lands near 1e-3 after 700 steps; a race in the
grid barrier gives O(1)). Timings: warm-up, then the median of ``--reps`` synchronised calls, two input
sets alternated. Parts run separately so that a hung kernel costs only its part (the job wraps each in
``timeout``); ``--part canary`` runs the smallest fused case once and fails loudly.
With ``--quick`` the fused kernel runs in Pallas' interpreter (CPU): values only, timings meaningless.
"""
from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # the GPU is shared

import argparse
import json
import statistics
import time
from pathlib import Path


def _median_ms(fn, args_sets, reps, warmup=3):
    import jax
    for i in range(warmup):
        jax.block_until_ready(fn(*args_sets[i % len(args_sets)]))
    ts = []
    for i in range(reps):
        a = args_sets[i % len(args_sets)]
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*a))
        ts.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(ts), 1e3 * (max(ts) - min(ts))


class Bench:
    def __init__(self, a):
        import jax
        import jax.numpy as jnp

        from jaxseq.nn import cells, fused_lstm, scan
        self.a, self.jax, self.jnp = a, jax, jnp
        self.cells, self.scan, self.fl = cells, scan, fused_lstm
        self.rows = {}
        self._refs = {}
        self.interpret = jax.default_backend() not in ("gpu", "cuda")

    def inputs(self, B, T, seed, dtype="float32"):
        jax, jnp = self.jax, self.jnp
        ks = jax.random.split(jax.random.PRNGKey(seed), 4)
        p = self.cells.LSTM.init(ks[0], self.a.input, self.a.hidden)
        p["b"] = 0.5 * jax.random.normal(ks[1], p["b"].shape)
        if dtype == "bfloat16":
            p = {k: v.astype(jnp.bfloat16) for k, v in p.items()}
        xs = jax.random.normal(ks[2], (B, T, self.a.input))
        w = jax.random.normal(ks[3], (B, T, self.a.hidden))
        return p, xs, w

    def fns(self, fused, unroll=1, **kw):
        jax, jnp, scan, cells = self.jax, self.jnp, self.scan, self.cells
        if fused:
            def layer(p, xs):
                xp = cells.LSTM.project(p, jnp.swapaxes(xs, 0, 1))
                ys, _ = self.fl.lstm_run(p, xp, interpret=self.interpret, **kw)
                return jnp.swapaxes(ys, 0, 1)
        else:
            def layer(p, xs):
                return scan.run(cells.LSTM, p, xs, unroll=unroll, fused=False)[0]
        fwd = jax.jit(layer)
        grad = jax.jit(jax.grad(lambda p, xs, w: jnp.sum(layer(p, xs) * w), argnums=(0, 1)))
        return fwd, grad

    def record(self, name, ms, spread, **extra):
        self.rows[name] = {"ms": round(ms, 4), "spread_ms": round(spread, 4), **extra}
        print(f"{name}: {ms:.3f} ms (spread {spread:.3f})" + "".join(f" {k}={v}" for k, v in extra.items()),
              flush=True)
        self.flush()

    def flush(self):
        if self.a.out:
            Path(self.a.out).parent.mkdir(parents=True, exist_ok=True)
            Path(self.a.out).write_text(json.dumps({"meta": self.meta(), "rows": self.rows}, indent=1))

    def meta(self):
        jax = self.jax
        d = jax.devices()[0]
        return {"jax": jax.__version__, "device": getattr(d, "device_kind", str(d)),
                "backend": jax.default_backend(), "T": self.a.T, "B": self.a.B, "H": self.a.hidden,
                "input": self.a.input, "big_batch": self.a.big_batch, "reps": self.a.reps}

    def time_pair(self, tag, fused, B, T, dtype="float32", modes=("fwd", "fwdbwd"), **kw):
        sets = [self.inputs(B, T, s, dtype) for s in (1, 2)]
        fwd, grad = self.fns(fused, **kw)
        out = {}
        for mode in modes:
            if mode == "fwd":
                ms, sp = _median_ms(fwd, [(p, x) for p, x, _ in sets], self.a.reps)
            else:
                ms, sp = _median_ms(grad, sets, self.a.reps)
            out[mode] = ms
            self.record(f"{tag}_{mode}", ms, sp, us_per_step=round(1e3 * ms / T, 3))
        return out

    # ------------------------------------------------------------------------------------- checks
    def check(self, tag, B, T, dtype="float32", grads=True, **kw):
        """Relative errors of the fused kernel and of the default scan against a HIGHEST scan."""
        jax, jnp = self.jax, self.jnp
        p, xs, w = self.inputs(B, T, 3, dtype)
        f_fwd, f_grad = self.fns(True, **kw)
        key = (B, T, dtype, grads)
        if key not in self._refs:  # the references, computed once per shape
            s_fwd, s_grad = self.fns(False, unroll=1)
            with jax.default_matmul_precision("highest"):
                r_fwd, r_grad = self.fns(False, unroll=1)
                ref = r_fwd(p, xs)
                gref = r_grad(p, xs, w) if grads else None
            self._refs[key] = (ref, gref, s_fwd(p, xs), s_grad(p, xs, w) if grads else None)
        ref, gref, sout, gs = self._refs[key]

        def rel(a, b):
            a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
            return float(jnp.linalg.norm((a - b).ravel()) / jnp.linalg.norm(b.ravel()))

        t0 = time.perf_counter()
        out = jax.block_until_ready(f_fwd(p, xs))
        first_s = time.perf_counter() - t0
        res = {"rel_fused": rel(out, ref), "rel_scan": rel(sout, ref),
               "finite": bool(jnp.all(jnp.isfinite(out))), "first_call_s": round(first_s, 2)}
        if grads:
            gf = f_grad(p, xs, w)
            res["rel_grad_wh_fused"] = rel(gf[0]["wh"], gref[0]["wh"])
            res["rel_grad_xs_fused"] = rel(gf[1], gref[1])
            res["rel_grad_wh_scan"] = rel(gs[0]["wh"], gref[0]["wh"])
        tol = 5e-2 if dtype == "bfloat16" else 2e-2
        res["ok"] = bool(res["finite"] and res["rel_fused"] < tol
                         and res.get("rel_grad_wh_fused", 0) < 10 * tol)
        self.rows[f"check_{tag}"] = res
        print(f"check_{tag}: " + " ".join(f"{k}={v:.2e}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in res.items()), flush=True)
        self.flush()
        return res["ok"]


def part_scan(b):
    a = b.a
    jax, jnp = b.jax, b.jnp
    for u in a.unrolls:
        b.time_pair(f"scan_u{u}_f32_B{a.B}", False, a.B, a.T, unroll=u)
    for u in a.unrolls:
        b.time_pair(f"scan_u{u}_bf16_B{a.B}", False, a.B, a.T, dtype="bfloat16", unroll=u)
    for u in a.unrolls:
        b.time_pair(f"scan_u{u}_f32_B{a.big_batch}", False, a.big_batch, a.T, modes=("fwd",), unroll=u)
    # the floor of issue 15: T dependent [B,H]x[H,4H] matmul + tanh steps, forward only
    H = a.hidden
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    w = jax.random.normal(k1, (H, 4 * H)) / H ** 0.5

    @jax.jit
    def floor(w, h0):
        def body(h, _):
            return jnp.tanh(jnp.dot(h, w)[:, :H]), None
        return jax.lax.scan(body, h0, None, length=a.T)[0]
    ms, sp = _median_ms(floor, [(w, jax.random.normal(k2, (a.B, H)))], a.reps)
    b.record(f"floor_matmul_tanh_B{a.B}_fwd", ms, sp, us_per_step=round(1e3 * ms / a.T, 3))
    # the device's two ceilings (METHOD.md): a device-to-device copy and a large matmul
    n = 1 << 26 if not a.quick else 1 << 12
    x = jax.random.normal(k1, (n,))
    ms, sp = _median_ms(jax.jit(lambda x: x * 1.0000001), [(x,)], a.reps)
    b.record("ceiling_copy_256MB", ms, sp, GBps=round(2 * 4 * n / ms / 1e6, 1))
    m = 8192 if not a.quick else 64
    for dt in (jnp.float32, jnp.bfloat16):
        y = jax.random.normal(k2, (m, m)).astype(dt)
        ms, sp = _median_ms(jax.jit(lambda y: jnp.dot(y, y)), [(y,)], a.reps)
        b.record(f"ceiling_matmul_{m}_{jnp.dtype(dt).name}", ms, sp, TFLOPs=round(2 * m ** 3 / ms / 1e9, 1))


def _variants(a):
    f32 = [dict(units=16, w_resident=False, num_warps=4), dict(units=16, w_resident=False, num_warps=8),
           dict(units=32, w_resident=False, num_warps=8),
           dict(units=16, w_resident=False, num_warps=4, poll="volatile")]
    f16 = [dict(units=16, num_warps=4, f16_operands=True), dict(units=16, num_warps=8, f16_operands=True)]
    bf16 = [dict(units=16, w_resident=True, num_warps=4), dict(units=16, w_resident=False, num_warps=4),
            dict(units=16, w_resident=True, num_warps=8),
            dict(units=16, w_resident=True, num_warps=4, poll="volatile")]
    big = [dict(units=32, batch_tile=128, w_resident=False, num_warps=8),
           dict(units=64, batch_tile=64, w_resident=False, num_warps=8)]
    if a.quick:
        return f32[:1], f16[:1], bf16[:1], big[:1]
    return f32, f16, bf16, big


def _name(kw):
    return "_".join(f"{k[0]}{int(v) if isinstance(v, bool) else str(v)[:3]}" for k, v in kw.items())


def part_fused(b):
    a = b.a
    f32, f16, bf16, big = _variants(a)
    if b.interpret:  # the interpreter runs one program per batch group: U = H, no barrier
        f32 = bf16 = [dict()]
        f16 = [dict(f16_operands=True)]
        big = [dict(batch_tile=max(16, a.big_batch // 2))]
    best = {}
    for dtype, vs in (("f32", f32), ("f32f16", f16), ("bf16", bf16)):
        dt = "bfloat16" if dtype == "bf16" else "float32"
        for kw in vs:
            tag = f"fused_{dtype}_B{a.B}_{_name(kw)}"
            ms = guarded(b, tag, lambda: b.check(tag, a.B, a.T, dtype=dt, grads=False, **kw)
                         and b.time_pair(tag, True, a.B, a.T, dtype=dt, modes=("fwd",), **kw)["fwd"])
            if ms and ms < best.get(dtype, (1e9,))[0]:
                best[dtype] = (ms, kw)
        if dtype in best:  # fwd+bwd at the best forward variant: fused backward kernel, then scan bwd
            kw = best[dtype][1]
            for bk in (True, False):
                tag = f"fused_{dtype}_B{a.B}_{_name(kw)}_bwdk{int(bk)}"
                guarded(b, tag, lambda: b.check(tag + "_grad", a.B, a.T, dtype=dt, grads=True,
                                                bwd_kernel=bk, **kw)
                        and b.time_pair(tag, True, a.B, a.T, dtype=dt, modes=("fwdbwd",),
                                        bwd_kernel=bk, **kw))
            tag = f"fused_{dtype}_B{a.B}_{_name(kw)}"
            if dtype == "f32":  # per-step cost: the slope between T/4 and T; where the time goes
                guarded(b, tag, lambda: b.time_pair(f"{tag}_T{a.T // 4}", True, a.B, a.T // 4,
                                                    modes=("fwd",), **kw))
                guarded(b, "breakdown", lambda: breakdown(b, kw))
    for kw in big:
        tag = f"fused_f32_B{a.big_batch}_{_name(kw)}"
        guarded(b, tag, lambda: b.check(tag, a.big_batch, a.T, grads=False, **kw)
                and b.time_pair(tag, True, a.big_batch, a.T, modes=("fwd",), **kw))
    b.rows["best"] = {k: {"ms": v[0], "variant": v[1]} for k, v in best.items()}
    b.flush()


def guarded(b, tag, fn):
    """Run one row; an exception (a Triton compile error, say) is recorded, and the next row runs."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - a benchmark records every failure and goes on
        b.rows[f"error_{tag}"] = {"error": f"{type(e).__name__}: {str(e)[:2000]}"}
        print(f"error_{tag}: {type(e).__name__}: {str(e)[:2000]}", flush=True)
        b.flush()
        return None


def breakdown(b, kw):
    """Where the time of one fwd+bwd goes: each stage jitted and timed alone (float32, batch B)."""
    jax, jnp, fl, cells = b.jax, b.jnp, b.fl, b.cells
    a = b.a
    p, xs, w = b.inputs(a.B, a.T, 1)
    cfg = dict(reverse=False, units=kw.get("units", a.hidden if b.interpret else 16), batch_tile=None,
               w_resident=kw.get("w_resident", kw.get("f16_operands", False)), interpret=b.interpret,
               num_warps=kw.get("num_warps", 4), poll=kw.get("poll", "atomic"),
               f16_operands=kw.get("f16_operands", False))
    proj = jax.jit(lambda p, xs: cells.LSTM.project(p, jnp.swapaxes(xs, 0, 1)))
    xp = proj(p, xs)
    z = jnp.zeros((a.B, a.hidden), jnp.float32)
    fwd = jax.jit(lambda xp, wh: fl._forward(xp, None, z, z, wh, **cfg))
    hs, cs = fwd(xp, p["wh"])
    res = (xp, None, z, z, p["wh"], hs, cs)
    g = (jnp.swapaxes(w, 0, 1), jnp.zeros_like(cs))
    bwd_k = jax.jit(lambda res, g: fl._backward_fused(res, g, **cfg))
    bwd_s = jax.jit(lambda res, g: fl._backward(res, g, reverse=False))

    def scan_recurrence(xp, wh, unroll):
        def body(c, x):
            return cells.LSTM.step_projected({"wh": wh}, c, x)
        return jax.lax.scan(body, (z, z), xp, unroll=unroll)[1]
    for name, fn, args in (("projection", proj, (p, xs)), ("fused_fwd_kernel", fwd, (xp, p["wh"])),
                           ("fused_bwd_kernel_with_prologue", bwd_k, (res, g)),
                           ("scan_bwd_hoisted", bwd_s, (res, g)),
                           ("scan_recurrence_u1", jax.jit(lambda xp, wh: scan_recurrence(xp, wh, 1)),
                            (xp, p["wh"])),
                           ("scan_recurrence_u4", jax.jit(lambda xp, wh: scan_recurrence(xp, wh, 4)),
                            (xp, p["wh"]))):
        ms, sp = _median_ms(fn, [args], a.reps)
        b.record(f"stage_{name}_B{a.B}", ms, sp, us_per_step=round(1e3 * ms / a.T, 3))


def part_canary(b):
    kw = {} if b.interpret else dict(units=16, num_warps=4)
    jax, jnp, a = b.jax, b.jnp, b.a
    p, xs, _ = b.inputs(a.B, a.T, 4)
    xp = b.cells.LSTM.project(p, jnp.swapaxes(xs, 0, 1))
    z = jnp.zeros((a.B, a.hidden), jnp.float32)
    for T in (8, a.T):  # the barrier counters: (T - 1) * P each when no barrier gave up
        t0 = time.perf_counter()
        ctr = jax.block_until_ready(b.fl._forward(
            xp[:T], None, z, z, p["wh"], reverse=False, units=kw.get("units", a.hidden), batch_tile=None,
            w_resident=False, interpret=b.interpret, num_warps=4, with_counter=True)[2])
        b.rows[f"canary_counter_T{T}"] = {"counter": [int(c) for c in ctr],
                                          "wall_s": round(time.perf_counter() - t0, 2)}
        print(f"canary_counter_T{T}: {b.rows[f'canary_counter_T{T}']}", flush=True)
    ok = b.check("canary", b.a.B, 8, grads=True, **kw)  # the backward kernel included
    if not ok:
        raise SystemExit("canary: the fused kernel gives wrong values")


def part_lean(b):
    """Side by side in one process, fewest compilations: scan unroll 4 vs fused variants, fwd and
    fwd+bwd, each fused result checked against the scan's (same TF32 default) before it is timed."""
    jax, jnp, a = b.jax, b.jnp, b.a
    sets = [b.inputs(a.B, a.T, s) for s in (1, 2)]
    p, xs, w = sets[0]

    def rel(x, y):
        x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
        return float(jnp.linalg.norm((x - y).ravel()) / jnp.linalg.norm(y.ravel()))

    def timed(tag, fwd, grad, T):
        for mode, fn, args in (("fwd", fwd, [(q, x) for q, x, _ in sets]), ("fwdbwd", grad, sets)):
            ms, sp = _median_ms(fn, args, a.reps)
            b.record(f"{tag}_{mode}", ms, sp, us_per_step=round(1e3 * ms / T, 3))
    s_fwd, s_grad = b.fns(False, unroll=4)
    ref, gref = s_fwd(p, xs), s_grad(p, xs, w)
    timed(f"lean_scan_u4_B{a.B}", s_fwd, s_grad, a.T)
    variants = [dict(units=16, num_warps=4), dict(units=16, num_warps=4, f16_operands=True),
                dict(units=16, num_warps=8), dict(units=16, num_warps=4, bwd_kernel=False)]
    if b.interpret:
        variants = [dict()]
    for kw in variants:
        tag = f"lean_fused_B{a.B}_{_name(kw)}"

        def one():
            f_fwd, f_grad = b.fns(True, **kw)
            t0 = time.perf_counter()
            out = jax.block_until_ready(f_fwd(p, xs))
            g = f_grad(p, xs, w)
            res = {"rel_vs_scan": rel(out, ref), "rel_grad_wh_vs_scan": rel(g[0]["wh"], gref[0]["wh"]),
                   "rel_grad_xs_vs_scan": rel(g[1], gref[1]), "first_calls_s": round(time.perf_counter() - t0, 2)}
            res["ok"] = bool(res["rel_vs_scan"] < 2e-2 and res["rel_grad_wh_vs_scan"] < 2e-1)
            b.rows[f"check_{tag}"] = res
            print(f"check_{tag}: {res}", flush=True)
            b.flush()
            if res["ok"]:
                timed(tag, f_fwd, f_grad, a.T)
        guarded(b, tag, one)


def part_torch(b):
    import torch
    a = b.a
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = "cuda"
    lstm = torch.nn.LSTM(a.input, a.hidden, batch_first=True).to(dev)
    for B, modes in ((a.B, ("fwd", "fwdbwd")), (a.big_batch, ("fwd",))):
        xs = torch.randn(B, a.T, a.input, device=dev, requires_grad=True)
        w = torch.randn(B, a.T, a.hidden, device=dev)
        for mode in modes:
            def run():
                if mode == "fwd":
                    with torch.no_grad():
                        lstm(xs)
                else:
                    (lstm(xs)[0] * w).sum().backward()
            for _ in range(3):
                run()
            torch.cuda.synchronize()
            ts = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                run()
                torch.cuda.synchronize()
                ts.append(time.perf_counter() - t0)
            ms = 1e3 * statistics.median(ts)
            b.record(f"torch_cudnn_B{B}_{mode}", ms, 1e3 * (max(ts) - min(ts)),
                     us_per_step=round(1e3 * ms / a.T, 3))


# ------------------------------------------------------------------------------------------- profiles
def summarise_trace(logdir, top=12):
    """Where the time goes in one ``jax.profiler`` trace: per plane and line (a GPU stream, XLA ops, a
    CPU thread), the events grouped by name (count, total, mean) with the top ``top`` by total time,
    the line's busy time (union of its events) and its span (first start to last end). The Python
    line is skipped. Returns a dict small enough for JSON."""
    import glob

    from jax.profiler import ProfileData
    paths = sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True))
    if not paths:
        return {"error": f"no .xplane.pb under {logdir}"}
    out = {"file_bytes": os.path.getsize(paths[-1]), "planes": {}}
    for plane in ProfileData.from_file(paths[-1]).planes:
        lines = {}
        for line in plane.lines:
            if line.name == "python":
                continue
            ev = [(e.start_ns, e.duration_ns, e.name) for e in line.events]
            if not ev:
                continue
            ev.sort()
            busy, end = 0.0, -1.0
            for s, d, _ in ev:  # union of the intervals
                if s + d > end:
                    busy += s + d - max(s, end)
                    end = s + d
            by = {}
            for _, d, name in ev:
                c = by.setdefault(name, [0, 0.0])
                c[0] += 1
                c[1] += d
            rows = sorted(by.items(), key=lambda kv: -kv[1][1])[:top]
            lines[line.name] = {
                "events": len(ev), "busy_ms": round(busy / 1e6, 3),
                "span_ms": round((max(s + d for s, d, _ in ev) - ev[0][0]) / 1e6, 3),
                "top": [{"name": n[:120], "count": c, "total_ms": round(t / 1e6, 3),
                         "mean_us": round(t / c / 1e3, 2)} for n, (c, t) in rows]}
        if lines:
            out["planes"][plane.name] = lines
    return out


def _profiled(b, tag, fn, args, calls):
    """Warm ``fn`` up, then trace ``calls`` synchronised calls; record the wall time per call and the
    trace summary. The trace files are deleted unless ``--keep-traces``."""
    import shutil
    import tempfile
    jax = b.jax
    jax.block_until_ready(fn(*args))
    jax.block_until_ready(fn(*args))
    logdir = tempfile.mkdtemp(prefix=f"trace_{tag}_", dir=b.a.trace_dir)
    opts = None
    try:
        opts = jax.profiler.ProfileOptions()
        opts.python_tracer_level = 0  # the Python tracer would dwarf the device events
    except AttributeError:  # pragma: no cover - an older jax
        pass
    t0 = time.perf_counter()
    with jax.profiler.trace(logdir, **({"profiler_options": opts} if opts is not None else {})):
        for _ in range(calls):
            jax.block_until_ready(fn(*args))
    wall = (time.perf_counter() - t0) / calls
    summ = summarise_trace(logdir)
    summ.update(calls=calls, wall_ms_per_call=round(1e3 * wall, 3))
    if not b.a.keep_traces:
        shutil.rmtree(logdir, ignore_errors=True)
    b.rows[f"profile_{tag}"] = summ
    print(f"profile_{tag}: {1e3 * wall:.2f} ms/call (traced)", flush=True)
    print(format_summary(summ), flush=True)
    b.flush()


def format_summary(summ, top=8):
    """The summary as short text tables (device planes first)."""
    out = []
    planes = summ.get("planes", {})
    for pname in sorted(planes, key=lambda n: (not n.startswith("/device"), n)):
        for lname, ln in planes[pname].items():
            out.append(f"{pname} | {lname}: {ln['events']} events, busy {ln['busy_ms']} ms of span "
                       f"{ln['span_ms']} ms")
            out += [f"    {r['total_ms']:9.3f} ms {r['count']:7d} x {r['mean_us']:9.2f} us  {r['name']}"
                    for r in ln["top"][:top]]
    return "\n".join(out)


def _sampler_inputs(b, N, T):
    """The handwriting synthesis sampler as in ``benchmarks/handwriting_speed.py``: 3 x 400 LSTM, 20
    mixtures, 10 window Gaussians, 64 characters, random params, ``N`` lines of 63-character texts,
    ``T`` steps (random params never finish a line early, so every step runs)."""
    import numpy as np

    from jaxseq.models.handwriting import model as hw
    from jaxseq.models.handwriting import sample as hw_sample
    jax, jnp = b.jax, b.jnp
    cfg = hw.HWConfig(task="synthesis", hidden=b.a.hidden, layers=3, n_mix=20, n_gauss=10, vocab=64,
                      kappa_scale=0.05, unroll=4)
    params = hw.init(jax.random.PRNGKey(0), cfg)
    texts = np.full((N, 64), -1, np.int32)
    texts[:, :63] = np.random.default_rng(0).integers(0, 64, (N, 63))
    args = (params, jax.random.split(jax.random.PRNGKey(0), N), jnp.asarray(texts), jnp.ones((N,)),
            jnp.ones((N,)), jnp.zeros((N, 0, 3)), jnp.zeros((N,), jnp.int32))

    def fn(params, keys, texts, biases, temps, primes, plens):
        return hw_sample.sample_batch(params, cfg, keys, texts, biases, temps, primes, plens, max_steps=T,
                                      return_phi=False)[0]
    return fn, args


def part_profile(b):
    """Traces: (a) the scan layer fwd+bwd, (b) the fused kernel fwd+bwd, (c) the handwriting synthesis
    sampler (``--big-batch`` lines x T steps); each summarised per kernel. Then the sampling-shaped
    forward (batch ``--big-batch``) timed for the scan and the fused kernel side by side."""
    a, jax, jnp = b.a, b.jax, b.jnp
    what = a.profile.split(",")
    sets = [b.inputs(a.B, a.T, s) for s in (1, 2)]
    if "scan" in what:
        _, s_grad = b.fns(False, unroll=4)
        guarded(b, "scan", lambda: _profiled(b, f"scan_u4_fwdbwd_B{a.B}", s_grad, sets[0], a.profile_calls))
    if "fused" in what:
        kw = {} if b.interpret else dict(units=16, num_warps=4)
        _, f_grad = b.fns(True, **kw)
        guarded(b, "fused", lambda: _profiled(b, f"fused_fwdbwd_B{a.B}", f_grad, sets[0], a.profile_calls))
    if "sampler" in what:
        fn, args = _sampler_inputs(b, a.big_batch, a.T)
        guarded(b, "sampler", lambda: _profiled(b, f"hw_sampler_{a.big_batch}x{a.T}", jax.jit(fn), args,
                                                max(1, a.profile_calls // 2)))
    if "big" not in what:
        return
    # the sampling shape: one layer forward at batch big_batch, scan vs the fused kernel
    big = [b.inputs(a.big_batch, a.T, s) for s in (1, 2)]
    s_fwd, _ = b.fns(False, unroll=4)
    ref = s_fwd(big[0][0], big[0][1])
    guarded(b, "scan_big", lambda: b.record(f"scan_u4_fwd_B{a.big_batch}", *_median_ms(
        s_fwd, [(p, x) for p, x, _ in big], a.reps)))
    variants = ([dict()] if b.interpret else
                [dict(units=32, batch_tile=128, num_warps=8), dict(units=64, batch_tile=64, num_warps=8),
                 dict(units=16, batch_tile=256, num_warps=8)])
    for kw in variants:
        tag = f"fused_fwd_B{a.big_batch}_{_name(kw)}"

        def one():
            f_fwd, _ = b.fns(True, **kw)
            out = f_fwd(big[0][0], big[0][1])
            rel = float(jnp.linalg.norm((out - ref).ravel()) / jnp.linalg.norm(ref.ravel()))
            b.rows[f"check_{tag}"] = {"rel_vs_scan": rel, "ok": rel < 2e-2}
            print(f"check_{tag}: rel_vs_scan={rel:.2e}", flush=True)
            if rel < 2e-2:
                b.record(tag, *_median_ms(f_fwd, [(p, x) for p, x, _ in big], a.reps))
        guarded(b, tag, one)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", default="all", choices=["all", "scan", "fused", "canary", "torch", "lean", "profile"],
                    help="which rows to run (all = scan, canary, fused; torch only when named)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, CPU interpreter: a smoke run")
    ap.add_argument("--T", type=int, default=700, help="time steps")
    ap.add_argument("--B", type=int, default=64, help="batch of the training row")
    ap.add_argument("--big-batch", type=int, default=1024, help="batch of the sampling-like row (fwd)")
    ap.add_argument("--input", type=int, default=403)
    ap.add_argument("--hidden", type=int, default=400)
    ap.add_argument("--unrolls", default="1,4", help="scan unrolls to time")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--out", help="write the rows as JSON here (rewritten after every row)")
    ap.add_argument("--profile-calls", type=int, default=4, help="calls traced per profile (--part profile)")
    ap.add_argument("--profile", default="scan,fused,sampler,big",
                    help="--part profile: which of scan, fused, sampler (traces) and big (timings) to run")
    ap.add_argument("--trace-dir", default=None, help="where traces are written (default: a temp folder)")
    ap.add_argument("--keep-traces", action="store_true", help="keep the trace files (else only summaries)")
    a = ap.parse_args(argv)
    a.unrolls = [int(u) for u in a.unrolls.split(",")]
    if a.quick:
        a.T, a.B, a.big_batch, a.input, a.hidden, a.reps = 6, 4, 8, 5, 12, 2
    b = Bench(a)
    print(json.dumps(b.meta()), flush=True)
    parts = ["scan", "canary", "fused"] if a.part == "all" else [a.part]
    for part in parts:
        {"scan": part_scan, "fused": part_fused, "canary": part_canary, "torch": part_torch,
         "lean": part_lean, "profile": part_profile}[part](b)
    print("\n".join(f"{k:55s} {v.get('ms', '')}" for k, v in b.rows.items() if "ms" in v))


if __name__ == "__main__":
    main()
