"""Speed of the tutorial CNN's training step: JAX against a PyTorch peer with the same network, batch and
optimizer, in one run.

    python benchmarks/cnn_speed.py --device cuda --out runs/bench/cnn.json      # the GPU rows
    python benchmarks/cnn_speed.py --quick --no-torch                          # CPU smoke run of the JAX half

Network (both sides): conv 5x5 -> 6, ReLU, max-pool 2, conv 5x5 -> 16, ReLU, max-pool 2, fc 120, fc 84
(ReLU, dropout 0.25 after each), fc 10; softmax cross-entropy; Adam 1e-3; float32 (TF32 allowed on both
sides: JAX's default GPU precision, PyTorch's cuDNN default). Two input shapes:
  fmnist: 28x28x1 real Fashion-MNIST training images (random pixels if the data is absent),
  cifar:  32x32x3, the CIFAR-10 tutorial's shape; CIFAR-10 is not on this machine or the GPU, so these
          pixels are random uint8 (speed does not depend on pixel values; the row times shapes only).
Rows, each --steps optimizer steps per timed call on batches already on the device:
  (a) jax_step: ``jaxseq.models.cnn.model.loss_fn`` under ``jaxseq.training.loop.make_train_step`` (one
      jitted step per batch, dispatched from Python, as ``fit`` runs it);
  (b) jax_scan: the same step, all --steps of them inside one jitted ``lax.scan``;
  (c) torch_eager: the tutorial's ``Net`` (``nn.Conv2d``, ``F.max_pool2d``, ``nn.Linear``, NCHW) with
      ``nn.Dropout``, ``optim.Adam``, ``cudnn.benchmark = True``;
  (d) torch_compile: the same model under ``torch.compile`` (--torch-compile; skipped if it fails).
Rows are warmed up, then timed round-robin (--reps rounds), so on a shared GPU every row sees the same
spread of load; each figure is the median.
"""
from __future__ import annotations

import argparse
import platform
import statistics

import numpy as np
from _timing import timings, torch_setup, write_json   # benchmarks/ is on sys.path

SHAPES = {"fmnist": (28, 1), "cifar": (32, 3)}
DROPOUT = 0.25


def time_rows(rows, reps):
    """Warm every row up, then time the rows in turn, ``reps`` rounds (round-robin)."""
    for run, _ in rows.values():
        timings(run, 0)
    times = {k: [] for k in rows}
    for _ in range(reps):
        for k, (run, _) in rows.items():
            times[k] += timings(run, 1, warmup=0)
    return {k: dict(info, s_per_call=statistics.median(times[k]), all_s=times[k])
            for k, (_, info) in rows.items()}


def batches(a, shape):
    """``a.steps`` batches: uint8 images [steps, B, S, S, C] and labels [steps, B], and their source."""
    size, ch = SHAPES[shape]
    n = a.steps * a.batch_size
    rng = np.random.default_rng(0)
    src = "random pixels (timing only)"
    if shape == "fmnist":
        from jaxseq.errors import DataError
        try:
            from jaxseq.data import mnist
            x, y = mnist.load_images("fashion-mnist", "train", a.data_dir)
            x, y, src = x[:n, :, :, None], y[:n], "fashion-mnist train images"
        except DataError:
            pass
    if src.startswith("random"):
        x = rng.integers(0, 256, (n, size, size, ch), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.int32)
    return (x.reshape(a.steps, a.batch_size, size, size, ch), y.reshape(a.steps, a.batch_size)), src


# ------------------------------------------------------------------------------------------- JAX
def jax_rows(a, data, shape):
    import jax
    import jax.numpy as jnp
    import optax
    from jaxseq.models.cnn import model as cnn
    from jaxseq.training.loop import make_train_step
    size, ch = SHAPES[shape]
    params = cnn.init(jax.random.PRNGKey(0), cnn.CNNConfig(in_ch=ch, size=size, dropout=DROPOUT))
    opt = optax.adam(1e-3)

    def loss(p, b, k, s):
        return cnn.loss_fn(p, b, k, s, rate=DROPOUT)
    step = make_train_step(loss, opt)
    xs = jax.device_put(jnp.asarray(data[0], jnp.float32) / 255.0)   # [steps, B, S, S, C] in [0, 1]
    ys = jax.device_put(jnp.asarray(data[1]))
    key = jax.random.PRNGKey(1)
    st = {"p": jax.tree_util.tree_map(jnp.array, params), "s": opt.init(params)}
    info = {"device": str(jax.devices()[0]), "jax": jax.__version__}

    def run_step():
        for i in range(a.steps):
            st["p"], st["s"], m = step(st["p"], st["s"], {"x": xs[i], "y": ys[i]},
                                       jax.random.fold_in(key, i), jnp.int32(i))
        jax.block_until_ready(m["loss"])

    @jax.jit
    def many(p, s, xs, ys, key):
        def body(c, inp):
            p, s = c
            x, y, i = inp
            (l, _), g = jax.value_and_grad(loss, has_aux=True)(p, {"x": x, "y": y},
                                                                jax.random.fold_in(key, i), i)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), l
        (p, s), ls = jax.lax.scan(body, (p, s), (xs, ys, jnp.arange(xs.shape[0])))
        return p, s, ls[-1]
    sc = {"p": jax.tree_util.tree_map(jnp.array, params), "s": opt.init(params)}

    def run_scan():
        sc["p"], sc["s"], last = many(sc["p"], sc["s"], xs, ys, key)
        jax.block_until_ready(last)
    return {f"jax_step_{shape}": (run_step, info), f"jax_scan_{shape}": (run_scan, info)}


# --------------------------------------------------------------------------------------- PyTorch
def torch_rows(a, data, shape, compile_too):
    torch, sync = torch_setup(a.device)
    from torch import nn
    import torch.nn.functional as F
    torch.backends.cudnn.benchmark = True
    size, ch = SHAPES[shape]
    flat = 16 * ((((size - 4) // 2) - 4) // 2) ** 2

    class Net(nn.Module):   # the CIFAR-10 tutorial's network, with dropout after the hidden fc layers
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(ch, 6, 5), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = nn.Linear(flat, 120), nn.Linear(120, 84), nn.Linear(84, 10)
            self.drop = nn.Dropout(DROPOUT)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = torch.flatten(x, 1)
            x = self.drop(F.relu(self.fc1(x)))
            x = self.drop(F.relu(self.fc2(x)))
            return self.fc3(x)

    xs = torch.as_tensor(data[0], device=a.device).permute(0, 1, 4, 2, 3).float().div_(255.0).contiguous()
    ys = torch.as_tensor(data[1], device=a.device).long()
    info = {"device": a.device, "torch": torch.__version__}
    if a.device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name()

    def make(model):
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        crit = nn.CrossEntropyLoss()

        def step(x, y):
            opt.zero_grad(set_to_none=True)
            loss = crit(model(x), y)
            loss.backward()
            opt.step()
            return loss

        def run():
            for i in range(a.steps):
                loss = step(xs[i], ys[i])
            loss.item()
            sync()
        return run
    rows = {f"torch_eager_{shape}": (make(Net().to(a.device)), info)}
    if compile_too:
        try:
            run = make(torch.compile(Net().to(a.device)))
            run()   # compile now: a failure skips the row instead of ending the run
            rows[f"torch_compile_{shape}"] = (run, dict(info, compiled=True))
        except Exception as e:   # noqa: BLE001 - any compiler failure only drops this row
            print(f"torch.compile row skipped: {type(e).__name__}: {e}"[:300])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="PyTorch device (cpu, cuda)")
    p.add_argument("--batch-size", type=int, default=64, help="images per step")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps per timed call")
    p.add_argument("--reps", type=int, default=10, help="timed rounds (median reported)")
    p.add_argument("--shapes", default="fmnist,cifar", help="input shapes: fmnist (28x28x1), cifar (32x32x3)")
    p.add_argument("--data-dir", default=None, help="data root (Fashion-MNIST; else $JAXSEQ_DATA)")
    p.add_argument("--no-torch", action="store_true", help="JAX rows only (PyTorch is not installed)")
    p.add_argument("--torch-compile", action="store_true", help="add a torch.compile row")
    p.add_argument("--quick", action="store_true", help="tiny CPU smoke run: 5 steps, 2 rounds")
    p.add_argument("--out", default=None, help="write the rows as JSON here")
    a = p.parse_args(argv)
    if a.quick:
        a.steps, a.reps = 5, 2
    res, sources = {}, {}
    out = {"rows": res, "batch_size": a.batch_size, "steps_per_call": a.steps, "reps": a.reps,
           "host": platform.node(), "sources": sources}
    for shape in [s for s in a.shapes.split(",") if s]:   # timed shape by shape; JSON after each
        if shape not in SHAPES:
            p.error(f"--shapes: unknown shape {shape!r}; choose among {sorted(SHAPES)}")
        data, sources[shape] = batches(a, shape)
        rows = jax_rows(a, data, shape)
        if not a.no_torch:
            rows.update(torch_rows(a, data, shape, a.torch_compile))
        for k, r in time_rows(rows, a.reps).items():
            r.update(steps_per_s=a.steps / r["s_per_call"],
                     images_per_s=a.steps * a.batch_size / r["s_per_call"], data=sources[shape])
            res[k] = r
            print(f"{k:22s} {r['steps_per_s']:10.1f} steps/s {r['images_per_s']:12.0f} images/s  "
                  f"({r['device']})", flush=True)
        if a.out:
            write_json(a.out, out)
    if a.out:
        print("wrote", a.out)
    return out


if __name__ == "__main__":
    main()
