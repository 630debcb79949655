"""Speed of the Graves handwriting networks in JAX against a PyTorch peer on the same device.

    python benchmarks/handwriting_speed.py --device cuda --out runs/bench/handwriting.json
    python benchmarks/handwriting_speed.py --quick            # tiny sizes, CPU smoke run
    python benchmarks/handwriting_speed.py --device cuda --sample-only --bf16 --out runs/bench/hw_samp.json

Rows: (a) JAX prediction train step (fwd + bwd + Adam), batch 64 x 700 points, 3 x 400 LSTM, 20 mixtures;
(b) PyTorch peer: cuDNN ``nn.LSTM`` per layer with the same skips and MDN loss (TF32 on);
(c) JAX synthesis train step (layer 1 + window in one scan, layers 2-3 and output hoisted);
(d) PyTorch synthesis peer: layer 1 + window an ``nn.LSTMCell`` in a Python loop, layers 2-3 cuDNN;
(e) JAX batched sampling of N synthesis lines x 700 steps in one call (lines/s): the fast step
    (stacked weights, ids window, no phi output) and, as ``jax_sampling_ref_*``, the plain reference step
    with phi stacked (what sampling did before);
(f) PyTorch sampling of one line (Python loop of LSTMCells), lines/s.
Each row: warm-up, then the median of ``--reps`` timed repetitions, synchronised (``block_until_ready`` /
``torch.cuda.synchronize``). The JAX rows try each ``--unrolls`` value and report all of them.
torch is imported only here; the JAX rows run without it (``--no-torch``).
"""
from __future__ import annotations

import argparse
import math
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from _timing import timeit, torch_setup, write_json   # benchmarks/ is on sys.path


def fake_batch(rng, B, T, U, V, synthesis):
    xy = rng.normal(size=(B, T, 2)).astype(np.float32)
    eos = (rng.random((B, T, 1)) < 0.05).astype(np.float32)
    b = {"strokes": np.concatenate([xy, eos], -1), "mask": np.ones((B, T), np.float32)}
    if synthesis:
        b["text"] = rng.integers(0, V, (B, U)).astype(np.int32)
        b["text_mask"] = np.ones((B, U), np.float32)
    return b


# ----------------------------------------------------------------------------------------------- JAX
def jax_train_step(a, synthesis, unroll, bf16=False):
    from jaxseq.models.handwriting import model as hw
    from jaxseq.training import loop as train
    cfg = hw.HWConfig(task="synthesis" if synthesis else "prediction", hidden=a.hidden, layers=a.layers,
                      n_mix=a.n_mix, n_gauss=a.n_gauss, vocab=a.vocab if synthesis else 0,
                      kappa_scale=0.05, unroll=unroll, bf16=bf16)
    params = hw.init(jax.random.PRNGKey(0), cfg)
    opt = train.make_optimizer(train.TrainConfig(lr=1e-3, clip_norm=3.0, optimizer="adam"))
    state = {"p": params, "o": opt.init(params)}
    step = train.make_train_step(hw.make_loss(cfg), opt)
    batch = jax.device_put(fake_batch(np.random.default_rng(0), a.batch, a.T, a.text_len, a.vocab,
                                      synthesis))
    key = jax.random.PRNGKey(1)

    def run():
        state["p"], state["o"], m = step(state["p"], state["o"], batch, key, 0)
        return m["loss"]
    t0 = time.perf_counter()
    jax.block_until_ready(run())
    compile_s = time.perf_counter() - t0
    return timeit(lambda: jax.block_until_ready(run()), a.reps), compile_s


def jax_sampling(a, unroll=1, bf16=False, fast=True):
    from jaxseq.models.handwriting import model as hw
    from jaxseq.models.handwriting import sample as hw_sample
    cfg = hw.HWConfig(task="synthesis", hidden=a.hidden, layers=a.layers, n_mix=a.n_mix,
                      n_gauss=a.n_gauss, vocab=a.vocab, kappa_scale=0.05, unroll=unroll, bf16=bf16)
    params = hw.init(jax.random.PRNGKey(0), cfg)
    N = a.sample_lines
    rng = np.random.default_rng(0)
    texts = np.full((N, a.text_len), -1, np.int32)
    texts[:, :a.text_len - 1] = rng.integers(0, a.vocab, (N, a.text_len - 1))
    args = (params, cfg, jax.random.split(jax.random.PRNGKey(0), N), jnp.asarray(texts),
            jnp.ones((N,), jnp.float32), jnp.ones((N,), jnp.float32), jnp.zeros((N, 0, 3)),
            jnp.zeros((N,), jnp.int32))

    def run():
        return hw_sample.sample_batch(*args, max_steps=a.T, fast=fast, return_phi=not fast)[0]
    t0 = time.perf_counter()
    jax.block_until_ready(run())
    compile_s = time.perf_counter() - t0
    return timeit(lambda: jax.block_until_ready(run()), max(3, a.reps // 2), warmup=1), compile_s


# --------------------------------------------------------------------------------------------- torch
def torch_models(a, device):
    import torch
    import torch.nn as nn

    torch.backends.cudnn.benchmark = True   # TF32: torch_setup in torch_rows
    M, H, L, K, V = a.n_mix, a.hidden, a.layers, a.n_gauss, a.vocab
    LOG2PI = math.log(2 * math.pi)

    def mdn_nll(raw, target, mask):
        logit, mu1, mu2, ls1, ls2, rho = raw[..., :6 * M].split(M, -1)
        e = raw[..., 6 * M]
        ls1, ls2 = ls1.clamp(-10, 10), ls2.clamp(-10, 10)
        rho = torch.tanh(rho) * (1 - 1e-5)
        x1, x2, eos = target[..., :1], target[..., 1:2], target[..., 2]
        z1, z2 = (x1 - mu1) * torch.exp(-ls1), (x2 - mu2) * torch.exp(-ls2)
        om = 1 - rho * rho
        comp = -(z1 * z1 + z2 * z2 - 2 * rho * z1 * z2) / (2 * om) - LOG2PI - ls1 - ls2 - 0.5 * torch.log(om)
        lp = torch.logsumexp(torch.log_softmax(logit, -1) + comp, -1)
        lp = lp + eos * nn.functional.logsigmoid(e) + (1 - eos) * nn.functional.logsigmoid(-e)
        return -(lp * mask).sum() / mask.sum()

    class Pred(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnns = nn.ModuleList([nn.LSTM(3 + (H if i else 0), H, batch_first=True) for i in range(L)])
            self.out = nn.Linear(L * H, 6 * M + 1)

        def forward(self, x):
            hs, h = [], None
            for i, r in enumerate(self.rnns):
                h, _ = r(x if i == 0 else torch.cat([x, h], -1))
                hs.append(h)
            return self.out(torch.cat(hs, -1))

    class Synth(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell1 = nn.LSTMCell(3 + V, H)
            self.win = nn.Linear(H, 3 * K)
            self.rnns = nn.ModuleList([nn.LSTM(3 + H + V, H, batch_first=True) for _ in range(L - 1)])
            self.out = nn.Linear(L * H, 6 * M + 1)

        def window(self, h, kappa, chars):
            a_, b_, k_ = self.win(h).split(K, -1)
            alpha, beta = torch.exp(a_.clamp(-10, 10)), torch.exp(b_.clamp(-10, 10))
            kappa = kappa + torch.exp(k_.clamp(-10, 5)) * 0.05
            u = torch.arange(chars.shape[1], device=h.device, dtype=h.dtype)
            phi = (alpha[:, :, None] * torch.exp(-beta[:, :, None] * (kappa[:, :, None] - u) ** 2)).sum(1)
            return torch.einsum("bu,buv->bv", phi, chars), kappa

        def forward(self, x, chars):
            B, T, _ = x.shape
            h = c = x.new_zeros(B, H)
            w, kappa = x.new_zeros(B, V), x.new_zeros(B, K)
            h1s, ws = [], []
            for t in range(T):  # layer 1 + window must be stepped together
                h, c = self.cell1(torch.cat([x[:, t], w], -1), (h, c))
                w, kappa = self.window(h, kappa, chars)
                h1s.append(h)
                ws.append(w)
            h1, ws = torch.stack(h1s, 1), torch.stack(ws, 1)
            hs, hprev = [h1], h1
            for r in self.rnns:
                hprev, _ = r(torch.cat([x, hprev, ws], -1))
                hs.append(hprev)
            return self.out(torch.cat(hs, -1))

    return Pred().to(device), Synth().to(device), mdn_nll


def torch_rows(a, device, sample_only=False):
    torch, sync = torch_setup(device, seed=None)
    pred, synth, mdn_nll = torch_models(a, device)
    b = fake_batch(np.random.default_rng(0), a.batch, a.T, a.text_len, a.vocab, True)
    x = torch.tensor(b["strokes"], device=device)
    mask = torch.tensor(b["mask"], device=device)
    chars = torch.nn.functional.one_hot(torch.tensor(b["text"], device=device).long(), a.vocab).float()
    xin = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)
    rows = {}
    train_rows = () if sample_only else (("torch_prediction_train", pred, lambda: pred(xin)),
                                         ("torch_synthesis_train", synth, lambda: synth(xin, chars)))
    for name, model, fwd in train_rows:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = mdn_nll(fwd(), x, mask)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
            opt.step()
            return loss
        reps = a.reps if "prediction" in name else max(3, a.reps // 2 if a.quick else a.reps)
        rows[name] = timeit(lambda: (step(), sync()), reps)
        print(f"{name}: {rows[name] * 1e3:.1f} ms/step")

    # (f) one line sampled step by step, the way a PyTorch user would write it
    cells = [torch.nn.LSTMCell(3 + a.vocab, a.hidden).to(device)] + \
            [torch.nn.LSTMCell(3 + a.hidden + a.vocab, a.hidden).to(device) for _ in range(a.layers - 1)]
    ch1 = chars[:1]

    @torch.no_grad()
    def sample_one():
        xt = torch.zeros(1, 3, device=device)
        st = [(torch.zeros(1, a.hidden, device=device),) * 2 for _ in cells]
        w, kappa = torch.zeros(1, a.vocab, device=device), torch.zeros(1, a.n_gauss, device=device)
        for t in range(a.T):
            hs = []
            for i, cell in enumerate(cells):
                inp = torch.cat([xt, w], -1) if i == 0 else torch.cat([xt, hs[-1], w], -1)
                st[i] = cell(inp, st[i])
                hs.append(st[i][0])
                if i == 0:
                    w, kappa = synth.window(hs[0], kappa, ch1)
            raw = synth.out(torch.cat(hs, -1))
            logit = raw[:, :a.n_mix]
            k = torch.multinomial(torch.softmax(logit, -1), 1)[:, 0]
            mu = torch.stack([raw[0, a.n_mix + k], raw[0, 2 * a.n_mix + k]], -1)
            eos = torch.bernoulli(torch.sigmoid(raw[:, 6 * a.n_mix:]))
            xt = torch.cat([mu + 0.1 * torch.randn_like(mu), eos], -1)
        return xt
    t = timeit(lambda: (sample_one(), sync()), 3, warmup=1)
    rows["torch_sampling_one_line_s"] = t
    print(f"torch one-line sampling: {t:.2f} s/line")
    return rows


# ---------------------------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda or cpu (the PyTorch peer's device; JAX uses its "
                                                     "default backend)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes for a CPU smoke run")
    ap.add_argument("--out", default="runs/bench/handwriting_speed.json", help="JSON results file")
    ap.add_argument("--reps", type=int, default=10, help="timed repetitions per row (median reported)")
    ap.add_argument("--batch", type=int, default=64, help="lines per train step")
    ap.add_argument("--T", type=int, default=700, help="points per line (train) / sampling steps")
    ap.add_argument("--hidden", type=int, default=400, help="LSTM units")
    ap.add_argument("--layers", type=int, default=3, help="LSTM layers")
    ap.add_argument("--n-mix", type=int, default=20, help="mixture components")
    ap.add_argument("--n-gauss", type=int, default=10, help="window Gaussians")
    ap.add_argument("--vocab", type=int, default=64, help="charset size")
    ap.add_argument("--text-len", type=int, default=64, help="padded text length U")
    ap.add_argument("--sample-lines", type=int, default=1024, help="lines per batched sampling call")
    ap.add_argument("--unrolls", default="1,4,8", help="lax.scan unroll factors to try")
    ap.add_argument("--bf16", action="store_true", help="also time bf16 matmuls at the best unroll")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    ap.add_argument("--sample-only", action="store_true",
                    help="only the sampling rows (JAX fast and reference step, PyTorch one-line)")
    ap.add_argument("--no-ref", action="store_true", help="skip the reference-step sampling row")
    a = ap.parse_args(argv)
    if a.quick:
        a.batch, a.T, a.hidden, a.n_mix, a.vocab, a.text_len = 4, 20, 16, 3, 8, 8
        a.sample_lines, a.reps, a.n_gauss = 8, 3, 2
        a.unrolls = a.unrolls if a.unrolls != "1,4,8" else "1,2"
        if a.device == "cuda":
            a.device = "cpu"
    unrolls = [int(u) for u in a.unrolls.split(",")]
    res = {"device": str(jax.devices()[0].device_kind), "jax": jax.__version__,
           "python": platform.python_version(), "config": vars(a), "rows": {}}
    rows = res["rows"]
    for synthesis in (() if a.sample_only else (False, True)):
        name = "jax_synthesis_train" if synthesis else "jax_prediction_train"
        best = None
        for u in unrolls:
            t, c = jax_train_step(a, synthesis, u)
            rows[f"{name}_unroll{u}"] = t
            print(f"{name} unroll={u}: {t * 1e3:.1f} ms/step (compile {c:.1f}s)")
            best = (t, u) if best is None or t < best[0] else best
        rows[name], rows[f"{name}_best_unroll"] = best
        if a.bf16:
            t, _ = jax_train_step(a, synthesis, best[1], bf16=True)
            rows[f"{name}_bf16"] = t
            print(f"{name} bf16 unroll={best[1]}: {t * 1e3:.1f} ms/step")
    best = None
    for u in unrolls:
        t, c = jax_sampling(a, unroll=u)
        rows[f"jax_sampling_lines_per_s_unroll{u}"] = a.sample_lines / t
        print(f"jax sampling {a.sample_lines} lines x {a.T} steps, unroll={u}: {t:.3f}s = "
              f"{a.sample_lines / t:,.0f} lines/s (compile {c:.1f}s)")
        best = (t, u) if best is None or t < best[0] else best
    t = best[0]
    rows["jax_sampling_s"], rows["jax_sampling_best_unroll"] = best
    rows["jax_sampling_lines_per_s"] = a.sample_lines / t
    if not a.no_ref:
        t, _ = jax_sampling(a, unroll=best[1], fast=False)
        rows["jax_sampling_ref_lines_per_s"] = a.sample_lines / t
        print(f"jax sampling, reference step (+phi): {a.sample_lines / t:,.0f} lines/s")
    if a.bf16:
        t, _ = jax_sampling(a, unroll=best[1], bf16=True)
        rows["jax_sampling_bf16_lines_per_s"] = a.sample_lines / t
        print(f"jax sampling bf16: {a.sample_lines / t:,.0f} lines/s")
    if not a.no_torch:
        import torch
        res["torch"] = torch.__version__
        rows.update(torch_rows(a, a.device, sample_only=a.sample_only))
        if not a.sample_only:
            rows["speedup_prediction"] = rows["torch_prediction_train"] / rows["jax_prediction_train"]
            rows["speedup_synthesis"] = rows["torch_synthesis_train"] / rows["jax_synthesis_train"]
        rows["speedup_sampling"] = rows["jax_sampling_lines_per_s"] * rows["torch_sampling_one_line_s"]
    print("\n| row | value |\n| --- | --- |")
    for k, v in rows.items():
        ms = k.endswith("train") or "_train_unroll" in k or k.endswith("train_bf16")
        print(f"| {k} | {v * 1e3:.1f} ms |" if ms else f"| {k} | {v:,.3f} |")
    print(f"wrote {write_json(a.out, res)}")


if __name__ == "__main__":
    main()
