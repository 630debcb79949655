"""Speed of one DCGAN training step (discriminator + generator update): JAX against a PyTorch peer with
the same architecture, batch and optimizer, in one run.

    python benchmarks/dcgan_speed.py --device cuda --out runs/bench/dcgan.json     # the GPU row
    python benchmarks/dcgan_speed.py --quick --no-torch                           # CPU smoke run of the JAX half

Both sides: 32x32x1 Fashion-MNIST batches (real images, scaled to [-1, 1]; random ones if the data is
absent), nz 100, ngf = ndf = 64, batch --batch-size (128), Adam 2e-4 / beta1 0.5 on each network, float32
(TF32 convolutions allowed on both sides: JAX's default precision, PyTorch's default for cuDNN convs).
One step = the PyTorch DCGAN tutorial's: D on the real batch and on G(z) (detached), one D update; D on
the same G(z), one G update.
  (a) JAX: ``jaxseq.models.dcgan.training.train_step`` jitted (batch-norm state threaded through);
  (b) PyTorch: the tutorial's ``Generator`` / ``Discriminator`` at 32x32 (one fewer layer than its 64x64
      version), BCELoss on a sigmoid output, eager, NCHW, ``cudnn.benchmark = True``;
  (c) PyTorch the same under ``torch.compile`` (--torch-compile; inductor's layout optimisation off and
      LeakyReLU not in place: with them, torch 2.11's compiled convolution_backward failed a stride
      check in round 1): a second round of all rows
      (``rows_round2``), after the first is written, so a failing or slow compile loses nothing.
Each row runs --steps steps per timed call; rows are warmed up and timed round-robin (--reps rounds), so
on a shared GPU every row sees the same spread of load; the figure is the median.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

NZ, NGF, NDF, SIZE = 100, 64, 64, 32


def time_rows(rows, reps, warmup=2):
    for run, _ in rows.values():
        for _ in range(warmup):
            run()
    times = {k: [] for k in rows}
    for _ in range(reps):
        for k, (run, _) in rows.items():
            t0 = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t0)
    return {k: dict(info, s_per_call=statistics.median(times[k]), all_s=times[k])
            for k, (_, info) in rows.items()}


def real_batches(a):
    """``a.steps`` batches [B, 32, 32, 1] in [-1, 1] of real Fashion-MNIST (random if absent)."""
    from jaxseq.errors import DataError
    from jaxseq.models.dcgan import shared
    try:
        x = shared.load_images("fashion-mnist", SIZE, "train", a.data_dir, limit=a.steps * a.batch_size)
        src = "fashion-mnist"
    except DataError:
        x = np.random.default_rng(0).integers(0, 256, (a.steps * a.batch_size, SIZE, SIZE, 1), np.uint8)
        src = "random (fashion-mnist absent)"
    b = shared.batch_of(x, np.arange(len(x))).reshape(a.steps, a.batch_size, SIZE, SIZE, 1)
    return b, src


def jax_row(a, batches):
    import jax
    from jaxseq.models.dcgan import training as T
    cfg = T.DCGANTrainConfig(batch_size=a.batch_size)
    step = T.make_step(cfg)
    st = {"s": T.init_state(cfg)}
    dev = [jax.device_put(b) for b in batches]
    keys = [jax.random.PRNGKey(i) for i in range(len(dev))]

    def run():
        for b, k in zip(dev, keys):
            st["s"], m = step(st["s"], b, k)
        jax.block_until_ready(m["loss_d"])
    return run, {"framework": "jax", "jax": jax.__version__, "device": str(jax.devices()[0])}


def torch_row(a, batches, compile_=False):
    import torch
    from torch import nn
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    dev = a.device
    sync = (lambda: torch.cuda.synchronize()) if dev.startswith("cuda") else (lambda: None)

    def weights_init(m):   # the tutorial's
        name = m.__class__.__name__
        if name.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif name.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    netG = nn.Sequential(
        nn.ConvTranspose2d(NZ, NGF * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
        nn.ConvTranspose2d(NGF, 1, 4, 2, 1, bias=False), nn.Tanh()).to(dev)
    if compile_:   # round 1 (torch 2.11): inductor's channels-last layout pass broke convolution_backward
        import torch._inductor.config as inductor_config
        inductor_config.layout_optimization = False
    inplace = not compile_   # the tutorial's in-place LeakyReLU, eager only
    netD = nn.Sequential(
        nn.Conv2d(1, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=inplace),
        nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=inplace),
        nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 4),
        nn.LeakyReLU(0.2, inplace=inplace),
        nn.Conv2d(NDF * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid()).to(dev)
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    G, D = (torch.compile(netG), torch.compile(netD)) if compile_ else (netG, netD)
    data = [torch.as_tensor(np.ascontiguousarray(b.transpose(0, 3, 1, 2)), device=dev) for b in batches]
    B = a.batch_size
    ones, zeros = torch.ones(B, device=dev), torch.zeros(B, device=dev)

    def step(real):
        D.zero_grad()
        errD_real = criterion(D(real).view(-1), ones)
        errD_real.backward()
        noise = torch.randn(B, NZ, 1, 1, device=dev)
        fake = G(noise)
        errD_fake = criterion(D(fake.detach()).view(-1), zeros)
        errD_fake.backward()
        optD.step()
        G.zero_grad()
        errG = criterion(D(fake).view(-1), ones)
        errG.backward()
        optG.step()
        return errG

    def run():
        for real in data:
            step(real)
        sync()
    name = "pytorch+compile" if compile_ else "pytorch"
    return run, {"framework": name, "torch": torch.__version__, "device": dev}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="PyTorch device (cuda or cpu)")
    p.add_argument("--data-dir", default=None, help="data root with fashion-mnist/ (else $JAXSEQ_DATA)")
    p.add_argument("--batch-size", type=int, default=128, help="images per step (the tutorial's 128)")
    p.add_argument("--steps", type=int, default=50, help="training steps per timed call")
    p.add_argument("--reps", type=int, default=7, help="timed rounds")
    p.add_argument("--quick", action="store_true", help="tiny counts on the CPU: a smoke run")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    p.add_argument("--torch-compile", action="store_true", help="also time the peer under torch.compile")
    p.add_argument("--out", help="write the results as JSON here")
    a = p.parse_args(argv)
    if a.quick:
        a.batch_size, a.steps, a.reps = 16, 2, 2
    batches, src = real_batches(a)
    rows = {"jax": jax_row(a, batches)}
    if not a.no_torch:
        rows["pytorch"] = torch_row(a, batches)
    out = {"args": vars(a), "data": src, "host": platform.node(), "rows": summarise(time_rows(rows, a.reps), a)}
    report(out, a)
    if a.torch_compile and not a.no_torch:   # a second round, after the first is saved: compiling may fail
        try:
            rows["pytorch+compile"] = torch_row(a, batches, compile_=True)
            rows["pytorch+compile"][0]()      # compile now, outside the timing
            out["rows_round2"] = summarise(time_rows(rows, a.reps), a)
        except Exception as e:  # noqa: BLE001 - an optional row; say why it is missing
            out["torch_compile_error"] = f"{type(e).__name__}: {e}"[:500]
        report(out, a)


def summarise(res, a):
    for r in res.values():
        r["ms_per_step"] = 1e3 * r["s_per_call"] / a.steps
        r["images_per_s"] = a.batch_size * a.steps / r["s_per_call"]
    if "pytorch" in res:
        res["jax"]["speedup_vs_pytorch"] = res["pytorch"]["s_per_call"] / res["jax"]["s_per_call"]
    return res


def report(out, a):
    for name in ("rows", "rows_round2"):
        for k, r in out.get(name, {}).items():
            print(f"{name:11s} {k:16s} {r['ms_per_step']:8.2f} ms/step  {r['images_per_s']:10.0f} images/s")
    if "torch_compile_error" in out:
        print("torch.compile row skipped:", out["torch_compile_error"])
    if a.out:
        from jaxseq.data.files import write_atomic
        write_atomic(a.out, json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
