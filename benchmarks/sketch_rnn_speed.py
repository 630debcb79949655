"""Sketch-RNN training speed: jaxseq (one jitted step, lax.scan) vs a PyTorch peer (nn.LSTM, cuDNN).

Both sides train the same model on the same batch: bidirectional LSTM encoder -> (mu, sigma_hat) -> z,
teacher-forced LSTM decoder with tanh(W z + b) initial state and z at every input, 20-component bivariate
mixture + 3-way pen softmax, loss Lr + w_KL * max(KL, KL_min), Adam with global-norm clipping 1.0.
The peer uses plain nn.LSTM (no layer norm, no recurrent dropout: cuDNN offers neither), so the compared
JAX model has them off too; extra JAX rows (unroll, layer norm, bf16) are labelled as such.

    python benchmarks/sketch_rnn_speed.py --device cuda --out runs/bench/sketch_rnn_speed.json
    python benchmarks/sketch_rnn_speed.py --quick            # CPU smoke run, tiny sizes

The batch is real sheep sketches when the data is found (--data-dir / $JAXSEQ_DATA), else random
sketches with sheep-like lengths; timing is per optimizer step after warm-up (compile excluded, reported
separately).
"""
from __future__ import annotations

import os

# Grow GPU memory on demand instead of grabbing 75% of it: other jobs may share the GPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import dataclasses
import math
import time

import numpy as np
from _timing import write_json   # benchmarks/ is on sys.path


# --------------------------------------------------------------------------------------------- data
def make_batch(a):
    from jaxseq.data import sketches as sd
    try:
        data = sd.load(sd.resolve("sheep", a.data_dir or None), max_len=a.max_len)["train"]
        scale = sd.scale_factor(data)
        src = "aaron_sheep train"
    except sd.DataError:
        rng = np.random.default_rng(0)
        data = []
        for n in rng.integers(a.max_len // 4, a.max_len + 1, size=a.batch_size):
            s = np.concatenate([rng.normal(0, 1, (n, 2)), (rng.random((n, 1)) < 0.1)], 1)
            data.append(s.astype(np.float32))
        scale, src = 1.0, "random"
    rng = np.random.default_rng(1)
    idx = rng.choice(len(data), a.batch_size, replace=len(data) < a.batch_size)
    return sd.make_batch(sd.normalise([data[i] for i in idx], scale), a.max_len), src


def _timeit(step_once, sync, steps, warmup):
    t0 = time.perf_counter()
    step_once()
    sync()
    first = time.perf_counter() - t0
    for _ in range(max(warmup - 1, 0)):
        step_once()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step_once()
    sync()
    dt = (time.perf_counter() - t0) / steps
    return {"ms_per_step": 1e3 * dt, "steps_per_s": 1.0 / dt, "first_step_s": first}


# ---------------------------------------------------------------------------------------------- JAX
def bench_jax(a, batch, **over):
    import jax
    import jax.numpy as jnp
    from jaxseq.models.sketch_rnn import model as sr
    from jaxseq.training.loop import TrainConfig, make_optimizer, make_train_step
    cfg = sr.SketchConfig(enc_size=a.enc_size, dec_size=a.dec_size, z_size=a.z_size, n_mix=a.n_mix,
                          max_len=a.max_len, layer_norm=False, rec_dropout=0.0)
    cfg = dataclasses.replace(cfg, **over)
    opt = make_optimizer(TrainConfig(lr=1e-3, clip_norm=1.0))
    params = sr.init(jax.random.PRNGKey(0), cfg)
    state = {"p": params, "o": opt.init(params)}
    step = make_train_step(sr.make_loss(cfg), opt)
    dev = jax.devices()[0]
    b = jax.device_put({k: np.asarray(v) for k, v in batch.items()}, dev)
    key = jax.random.PRNGKey(1)
    step0 = jnp.int32(0)          # the KL annealing step (eta = eta_min), as the peer's 0.5 * 0.01
    box = {}

    def once():
        state["p"], state["o"], box["m"] = step(state["p"], state["o"], b, key, step0)

    r = _timeit(once, lambda: jax.block_until_ready(box["m"]["loss"]), a.steps, a.warmup)
    r["loss"] = float(box["m"]["loss"])
    r["device"] = str(dev)
    return r


# ------------------------------------------------------------------------------------------ PyTorch
def bench_torch(a, batch):
    import torch
    from torch import nn

    dev = torch.device(a.device)
    M, Nz = a.n_mix, a.z_size

    class SketchRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.LSTM(5, a.enc_size, batch_first=True, bidirectional=True)
            self.latent = nn.Linear(2 * a.enc_size, 2 * Nz)
            self.init = nn.Linear(Nz, 2 * a.dec_size)
            self.dec = nn.LSTM(5 + Nz, a.dec_size, batch_first=True)
            self.out = nn.Linear(a.dec_size, 6 * M + 3)

        def forward(self, x, length, length_cpu):
            s_prev, target = x[:, :-1], x[:, 1:]
            packed = nn.utils.rnn.pack_padded_sequence(target, length_cpu, batch_first=True,
                                                       enforce_sorted=False)
            _, (h, _) = self.enc(packed)                       # h: [2, B, H]
            mu, sigma_hat = self.latent(torch.cat([h[0], h[1]], -1)).chunk(2, -1)
            z = mu + torch.exp(sigma_hat / 2) * torch.randn_like(mu)
            h0, c0 = torch.tanh(self.init(z)).chunk(2, -1)
            inp = torch.cat([s_prev, z[:, None].expand(-1, s_prev.shape[1], -1)], -1)
            y, _ = self.dec(inp, (h0[None].contiguous(), c0[None].contiguous()))
            raw = self.out(y)
            T = target.shape[1]
            logit, mu1, mu2, ls1, ls2, rho = raw[..., :6 * M].split(M, -1)
            ls1, ls2 = ls1.clamp(-10, 10), ls2.clamp(-10, 10)
            rho = (1 - 1e-5) * torch.tanh(rho)
            z1 = (target[..., :1] - mu1) * torch.exp(-ls1)
            z2 = (target[..., 1:2] - mu2) * torch.exp(-ls2)
            om = 1 - rho * rho
            q = z1 * z1 + z2 * z2 - 2 * rho * z1 * z2
            comp = -q / (2 * om) - math.log(2 * math.pi) - ls1 - ls2 - 0.5 * torch.log(om)
            lp_xy = torch.logsumexp(torch.log_softmax(logit, -1) + comp, -1)
            mask = (torch.arange(T, device=x.device)[None] < length[:, None]).float()
            l_s = -(lp_xy * mask).sum(-1) / T
            l_p = -(torch.log_softmax(raw[..., 6 * M:], -1) * target[..., 2:]).sum(-1).sum(-1) / T
            kl = -0.5 * torch.mean(1 + sigma_hat - mu * mu - torch.exp(sigma_hat), -1)
            lr = (l_s + l_p).mean()
            return lr + 0.5 * 0.01 * torch.clamp(kl.mean(), min=0.2)

    torch.manual_seed(0)
    model = SketchRNN().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.as_tensor(batch["x"], device=dev)
    length_cpu = torch.as_tensor(batch["length"]).long()   # as a data loader hands it over: no sync
    length = length_cpu.to(dev)
    box = {}

    def once():
        opt.zero_grad(set_to_none=True)
        loss = model(x, length, length_cpu)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        box["loss"] = loss

    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    r = _timeit(once, sync, a.steps, a.warmup)
    r["loss"] = float(box["loss"].detach())
    r["device"] = str(dev) + (f" ({torch.cuda.get_device_name()})" if dev.type == "cuda" else "")
    r["torch"] = torch.__version__
    return r


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="PyTorch device (JAX uses "
                   "its default backend: install the CUDA jaxlib for GPU)")
    p.add_argument("--quick", action="store_true", help="tiny sizes and few steps (CPU smoke run)")
    p.add_argument("--batch-size", type=int, default=100, help="sketches per step (equal on both sides)")
    p.add_argument("--max-len", type=int, default=250, help="Nmax")
    p.add_argument("--enc-size", type=int, default=256, help="encoder LSTM size per direction")
    p.add_argument("--dec-size", type=int, default=512, help="decoder LSTM size")
    p.add_argument("--z-size", type=int, default=128, help="latent size")
    p.add_argument("--n-mix", type=int, default=20, help="mixture components")
    p.add_argument("--steps", type=int, default=50, help="timed steps per configuration")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (includes compile)")
    p.add_argument("--unrolls", type=int, nargs="+", default=[1, 4, 8],
                   help="lax.scan unroll factors to time on the JAX side (the best is compared)")
    p.add_argument("--extras", action="store_true", help="also time JAX with layer norm and with bf16")
    p.add_argument("--skip-torch", action="store_true", help="JAX only")
    p.add_argument("--skip-jax", action="store_true", help="PyTorch only")
    p.add_argument("--data-dir", default="", help="data root with sketch-rnn/aaron_sheep.npz")
    p.add_argument("--out", default="", help="write the results as JSON here")
    a = p.parse_args(argv)
    if a.quick:
        a.batch_size, a.max_len, a.enc_size, a.dec_size, a.z_size = 8, 40, 16, 32, 8
        a.n_mix, a.steps, a.warmup, a.unrolls = 5, 5, 2, [1]

    batch, src = make_batch(a)
    res = {"config": {k: v for k, v in vars(a).items() if k != "out"}, "batch": src, "jax": {}}
    import jax
    print(f"batch {a.batch_size} x Nmax {a.max_len} ({src}); enc {a.enc_size}x2, dec {a.dec_size}, "
          f"z {a.z_size}, M {a.n_mix}; jax {jax.__version__} on {jax.devices()[0]}")
    for u in ([] if a.skip_jax else a.unrolls):
        r = res["jax"][f"unroll{u}"] = bench_jax(a, batch, unroll=u)
        print(f"jax  unroll={u:<2d}          {r['ms_per_step']:8.2f} ms/step  (first step "
              f"{r['first_step_s']:.1f} s, loss {r['loss']:.3f})")
    best = min(res["jax"], key=lambda k: res["jax"][k]["ms_per_step"]) if res["jax"] else None
    bu = int(best[len("unroll"):]) if best else 1
    if best and a.extras:
        r = res["jax"][f"unroll{bu}_run_bidirectional"] = bench_jax(a, batch, unroll=bu, enc_fused=False)
        print(f"jax  unroll={bu:<2d} unfused enc {r['ms_per_step']:8.2f} ms/step")
        for name, over in [("layer_norm", {"layer_norm": True}),
                           ("bf16", {"compute_dtype": "bfloat16"})]:
            r = res["jax"][f"unroll{bu}_{name}"] = bench_jax(a, batch, unroll=bu, **over)
            print(f"jax  unroll={bu:<2d} {name:<11s} {r['ms_per_step']:8.2f} ms/step (not the peer's model)")
    if not a.skip_torch:
        r = res["torch"] = bench_torch(a, batch)
        print(f"torch {r['torch']} {r['device']}: {r['ms_per_step']:8.2f} ms/step (first step "
              f"{r['first_step_s']:.1f} s, loss {r['loss']:.3f})")
    if best and not a.skip_torch:
        res["speedup_jax_over_torch"] = res["torch"]["ms_per_step"] / res["jax"][best]["ms_per_step"]
        print(f"speed-up of jaxseq ({best}) over PyTorch: {res['speedup_jax_over_torch']:.2f}x")
    if a.out:
        write_json(a.out, res)
        print("wrote", a.out)


if __name__ == "__main__":
    main()
