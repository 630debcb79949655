"""Speed of the names models (real surnames from the tutorial data.zip): JAX against PyTorch peers.

    python benchmarks/names_speed.py --device cuda --data-dir .devcarry/data --out runs/bench/names.json
    python benchmarks/names_speed.py --quick --no-torch          # tiny CPU smoke run of the JAX half

Rows (same model sizes on both sides: 57 one-hot letters, hidden 128, 18 languages):
  classifier training, names per second (forward + backward + optimizer step):
    (a) JAX: one jitted train step over a batch of --batch-size names padded to 20 letters, masked scan
        (``jaxseq.models.names``), Adam with clipping; once per ``--unrolls`` value of the scan;
    (b) PyTorch, the tutorial's way: one name per optimizer step, a Python loop over its letters calling
        the cell (``hidden = relu(i2h(cat(x, hidden)))`` for rnn_relu; ``nn.GRUCell`` for gru), SGD;
    (c) PyTorch batched: ``nn.RNN(nonlinearity="relu")`` / ``nn.GRU`` (cuDNN) over a packed padded batch
        of the same names, Adam with clipping.
  generator sampling, names per second (language-conditional GRU, temperature 0.5, up to 20 letters):
    (a) JAX: ``--sample-batch`` names in one jitted ``lax.scan``;
    (b) PyTorch, the tutorial's way: one name at a time, a Python loop over letters, stop at the end;
    (c) PyTorch batched: ``nn.GRUCell`` over the whole batch, a Python loop over 21 steps.
All rows are built first, warmed up, then timed round-robin (--reps rounds, each row once a round, so
on a GPU shared with other jobs every row sees the same spread of load); each row's figure is from its
median time, synchronised. torch is imported only in the PyTorch rows.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
from _timing import torch_setup, train_steps, write_json   # benchmarks/ is on sys.path

HIDDEN, T_MAX, N_LETTERS, VOCAB = 128, 20, 57, 58


def time_rows(rows, reps, warmup=2):
    """``rows``: {name: (run, names per call, info)}. Every row is warmed up, then the rows are timed in
    turn, ``reps`` rounds (round-robin: on a GPU shared with other jobs every row sees the same spread
    of load). Returns {name: info + names_per_s (from the median time) + s_per_call}."""
    for run, _, _ in rows.values():
        for _ in range(warmup):
            run()
    times = {k: [] for k in rows}
    for _ in range(reps):
        for k, (run, _, _) in rows.items():
            t0 = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t0)
    out = {}
    for k, (_, n, info) in rows.items():
        t = statistics.median(times[k])
        out[k] = dict(info, names_per_s=n / t, s_per_call=t, names_per_call=n)
    return out


def real_batches(a, n_batches):
    """``n_batches`` training batches of real names (ids [B, 20], lengths, labels), seeded."""
    from jaxseq.data import names as nd
    from jaxseq.data.batching import batch_indices
    from jaxseq.models.names.training import batch_of
    train, _, _ = nd.split(nd.load(a.data_dir), seed=0)
    return [batch_of(train, batch_indices(s, len(train), a.batch_size, 0), T_MAX) for s in range(n_batches)]


# ------------------------------------------------------------------------------------------- JAX
def jax_classifier(a, batches, cell, unroll=1):
    import jax
    from jaxseq.models.names import model as nm
    from jaxseq.models.names.training import loss_fn
    from jaxseq.training import loop
    cfg = nm.ClassifierConfig(cell, HIDDEN, 18, unroll)
    params = nm.classifier_init(jax.random.PRNGKey(0), cfg)
    opt = loop.make_optimizer(loop.TrainConfig(lr=3e-3, clip_norm=1.0))
    step = loop.make_train_step(loss_fn("classifier", cfg), opt)
    dev = [jax.device_put({k: v for k, v in b.items() if k != "weight"}) for b in batches]
    run, _ = train_steps(step, params, opt.init(params), dev)
    return run, len(dev) * a.batch_size, {"device": str(jax.devices()[0])}


def jax_sampling(a, unroll=1):
    import jax
    import jax.numpy as jnp
    from jaxseq.models.names import api
    from jaxseq.models.names import model as nm
    cfg = nm.GeneratorConfig("gru", HIDDEN, 1, True, 0.0, 18, unroll)
    params = nm.generator_init(jax.random.PRNGKey(0), cfg)
    B = a.sample_batch
    langs = jnp.asarray(np.arange(B) % 18, jnp.int32)
    prefix, plen = jnp.zeros((B, T_MAX + 1), jnp.int32), jnp.zeros((B,), jnp.int32)
    keys = iter(range(10 ** 6))

    def run():
        out = api._sample(params, cfg, jax.random.PRNGKey(next(keys)), langs, prefix, plen, T_MAX, 0.5)
        jax.block_until_ready(out)
    return run, B, {"device": str(jax.devices()[0])}


# --------------------------------------------------------------------------------------- PyTorch
def torch_tutorial_classifier(a, batches, cell, device):
    """The tutorial's loop: for each name, line_to_tensor, hidden = init, for each letter step, loss on
    the last output, backward, optimizer step."""
    torch, sync = torch_setup(device)
    from torch import nn

    class TutorialRNN(nn.Module):
        def __init__(self):
            super().__init__()
            if cell == "rnn_relu":
                self.i2h = nn.Linear(N_LETTERS + HIDDEN, HIDDEN)
            else:
                self.gru = nn.GRUCell(N_LETTERS, HIDDEN)
            self.h2o = nn.Linear(HIDDEN, 18)

        def forward(self, letter, hidden):
            if cell == "rnn_relu":
                hidden = torch.relu(self.i2h(torch.cat([letter, hidden], 1)))
            else:
                hidden = self.gru(letter, hidden)
            return torch.log_softmax(self.h2o(hidden), 1), hidden

    model = TutorialRNN().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.005)
    crit = nn.NLLLoss()
    eye = torch.eye(N_LETTERS, device=device)
    names = []   # (line tensor [len, 1, 57], category tensor [1]) as the tutorial builds them
    for b in batches[:max(1, a.batch1_names // a.batch_size + 1)]:
        for ids, n, y in zip(b["ids"], b["lengths"], b["labels"]):
            line = eye[torch.as_tensor(ids[:n] - 1, device=device).long()].unsqueeze(1)
            names.append((line, torch.tensor([int(y)], device=device)))
    names = names[:a.batch1_names]

    def run():
        for line, cat in names:
            hidden = torch.zeros(1, HIDDEN, device=device)
            model.zero_grad()
            for i in range(line.size(0)):
                output, hidden = model(line[i], hidden)
            loss = crit(output, cat)
            loss.backward()
            opt.step()
        sync()
    return run, len(names), {"device": device, "torch": torch.__version__}


def torch_batched_classifier(a, batches, cell, device):
    torch, sync = torch_setup(device)
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence

    class Batched(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = (nn.RNN(N_LETTERS, HIDDEN, nonlinearity="relu", batch_first=True) if cell == "rnn_relu"
                        else nn.GRU(N_LETTERS, HIDDEN, batch_first=True))
            self.out = nn.Linear(HIDDEN, 18)

        def forward(self, x, lengths):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            _, h = self.rnn(packed)                     # h: [1, B, H], the state after each last letter
            return self.out(h[0])

    model = Batched().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    eye = torch.eye(N_LETTERS + 1, device=device)[:, 1:]      # id 0 (padding) -> zeros
    dev = [(eye[torch.as_tensor(b["ids"], device=device).long()], torch.as_tensor(b["lengths"]).long(),
            torch.as_tensor(b["labels"], device=device).long()) for b in batches]

    def run():
        for x, n, y in dev:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x, n), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        sync()
    return run, len(dev) * a.batch_size, {"device": device, "torch": torch.__version__}


def torch_generator(device):
    torch, _ = torch_setup(device)
    from torch import nn

    class Gen(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = nn.GRUCell(VOCAB + 18, HIDDEN)
            self.out = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tok_onehot, lang_onehot, h):
            h = self.cell(torch.cat([tok_onehot, lang_onehot], 1), h)
            return self.out(h), h
    return Gen().to(device).eval()


def torch_tutorial_sampling(a, device):
    torch, sync = torch_setup(device)
    model = torch_generator(device)
    eye_v, eye_l = torch.eye(VOCAB, device=device), torch.eye(18, device=device)
    n = a.batch1_samples

    def run():
        with torch.no_grad():
            for i in range(n):
                lang = eye_l[i % 18:i % 18 + 1]
                h, tok, letters = torch.zeros(1, HIDDEN, device=device), 0, []
                for _ in range(T_MAX + 1):
                    logits, h = model(eye_v[tok:tok + 1], lang, h)
                    tok = int(torch.multinomial(torch.softmax(logits / 0.5, 1), 1).item())
                    if tok == 0:
                        break
                    letters.append(tok)
        sync()
    return run, n, {"device": device, "torch": torch.__version__}


def torch_batched_sampling(a, device):
    torch, sync = torch_setup(device)
    model = torch_generator(device)
    B = a.sample_batch
    eye_v, eye_l = torch.eye(VOCAB, device=device), torch.eye(18, device=device)
    lang = eye_l[torch.arange(B, device=device) % 18]

    def run():
        with torch.no_grad():
            h = torch.zeros(B, HIDDEN, device=device)
            tok = torch.zeros(B, dtype=torch.long, device=device)
            done = torch.zeros(B, dtype=torch.bool, device=device)
            out = []
            for _ in range(T_MAX + 1):
                logits, h = model(eye_v[tok], lang, h)
                tok = torch.multinomial(torch.softmax(logits / 0.5, 1), 1)[:, 0]
                out.append(torch.where(done, torch.zeros_like(tok), tok))
                done = done | (tok == 0)
            torch.stack(out, 1)
        sync()
    return run, B, {"device": device, "torch": torch.__version__}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="PyTorch device for the peers (cuda or cpu)")
    p.add_argument("--data-dir", default=None, help="data root with pytorch-tutorial/data.zip")
    p.add_argument("--quick", action="store_true", help="small counts on the CPU: a smoke run")
    p.add_argument("--cells", default="rnn_relu,gru", help="classifier cells to time")
    p.add_argument("--batch-size", type=int, default=64, help="names per batched training step")
    p.add_argument("--batches", type=int, default=50, help="training batches per timed repetition")
    p.add_argument("--batch1-names", type=int, default=300, help="names per timed rep, tutorial rows")
    p.add_argument("--sample-batch", type=int, default=1024, help="names per batched sampling call")
    p.add_argument("--batch1-samples", type=int, default=100, help="names per timed rep, tutorial sampling")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--unrolls", default="1,4", help="lax.scan unrolls of the JAX rows (the first is the "
                   "row compared with the peers; every one is reported)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    p.add_argument("--out", help="write the results as JSON here")
    a = p.parse_args(argv)
    if a.quick:
        a.device, a.batches, a.batch1_names, a.sample_batch, a.batch1_samples, a.reps = "cpu", 4, 20, 64, 5, 2
    for name in ("batch_size", "batches", "batch1_names", "sample_batch", "batch1_samples", "reps"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    batches = real_batches(a, a.batches)
    unrolls = [int(u) for u in a.unrolls.split(",")]
    todo, what = {}, {}
    for cell in a.cells.split(","):   # every row is built first, then all are timed round-robin
        for u in unrolls:
            name = f"classifier_{cell}_jax" + ("" if u == unrolls[0] else f"_unroll{u}")
            todo[name] = jax_classifier(a, batches, cell, u)
            what[name] = f"train, batch {a.batch_size}, unroll {u}"
        if not a.no_torch:
            todo[f"classifier_{cell}_torch_tutorial"] = torch_tutorial_classifier(a, batches, cell, a.device)
            what[f"classifier_{cell}_torch_tutorial"] = "train, batch 1"
            todo[f"classifier_{cell}_torch_batched"] = torch_batched_classifier(a, batches, cell, a.device)
            what[f"classifier_{cell}_torch_batched"] = f"train, batch {a.batch_size}"
    for u in unrolls:
        name = "sampling_jax" + ("" if u == unrolls[0] else f"_unroll{u}")
        todo[name], what[name] = jax_sampling(a, u), f"batch {a.sample_batch}, unroll {u}"
    if not a.no_torch:
        todo["sampling_torch_tutorial"] = torch_tutorial_sampling(a, a.device)
        what["sampling_torch_tutorial"] = "batch 1"
        todo["sampling_torch_batched"] = torch_batched_sampling(a, a.device)
        what["sampling_torch_batched"] = f"batch {a.sample_batch}"
    rows = time_rows(todo, a.reps)
    for name, r in rows.items():
        print(f"{name:36s} {r['names_per_s']:12.0f} names/s  ({what[name]}, {r['device']})", flush=True)
    if not a.no_torch:
        speed = {}
        for k in list(rows):
            if "_jax" in k:   # every JAX row (each unroll) against both peers of its model
                base = k.split("_jax")[0]
                for peer in ("torch_tutorial", "torch_batched"):
                    if f"{base}_{peer}" in rows:
                        speed[f"{k}_vs_{peer}"] = rows[k]["names_per_s"] / rows[f"{base}_{peer}"]["names_per_s"]
        rows["speedup"] = speed
        for k, v in speed.items():
            print(f"speed-up {k}: {v:.1f}x")
    if a.out:
        write_json(a.out, {"args": vars(a), "host": platform.node(), "rows": rows})
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
