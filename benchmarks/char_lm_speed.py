"""Training speed of the char-LSTM generator (truncated BPTT, state carried) and of the row-LSTM image
classifier: jaxseq against a PyTorch peer written the tutorial way and a batched PyTorch peer.

    python benchmarks/char_lm_speed.py --device cuda --out runs/bench/char_lm_speed.json
    python benchmarks/char_lm_speed.py --quick --no-torch          # tiny sizes, CPU: the JAX half only

Char-LSTM (the shipped model's size: vocab 66, embedding 64, 2 x 320 LSTM, windows of 128 characters):
  (a) jaxseq: one jitted train step (fwd + bwd + clip + Adam) over ``--batch`` streams, the carried state
      in and out (``char_lm.model.stream_loss`` through ``training.loop.make_train_step``);
  (b) PyTorch, tutorial style (the char-RNN generation tutorial): batch 1, a Python loop over the
      characters of the window with ``nn.LSTMCell`` layers, one optimizer step per window;
  (c) PyTorch, batched: cuDNN ``nn.LSTM`` over the same ``[batch, 128]`` windows, state carried and
      detached (the usual word_language_model truncated-BPTT loop).
Row-LSTM (28 steps of 28 pixels, LSTM 128, 10 classes, batch ``--row-batch``): (a) jaxseq; (b) batch 1
with a Python loop over rows; (c) cuDNN ``nn.LSTM`` batched. Every row: warm-up, then the median of
``--reps`` timed repetitions, synchronised; PyTorch runs with TF32 allowed (JAX's GPU default).
"""
from __future__ import annotations

import os

# Grow GPU memory on demand instead of grabbing 75% of it: other jobs may share the GPU.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import platform

import numpy as np
from _timing import timeit, torch_setup, write_json   # benchmarks/ is on the path


# ------------------------------------------------------------------------------------------- JAX
def jax_char(a, unroll):
    import functools

    import jax
    import jax.numpy as jnp

    from jaxseq.models.char_lm import model as cr
    from jaxseq.training import loop
    params = cr.init(jax.random.PRNGKey(0), cr.CharRNNConfig(a.vocab, a.embed, a.hidden, a.layers))
    opt = loop.make_optimizer(loop.TrainConfig(lr=2e-3, clip_norm=5.0))
    step = loop.make_train_step(functools.partial(cr.stream_loss, dropout=a.dropout, unroll=unroll), opt)
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(1, a.vocab, (a.batch, a.seq_len + 1)), jnp.int32)
    st = {"p": params, "s": opt.init(params), "c": cr.zeros(params, a.batch)}
    keep, key = jnp.ones(a.batch), jax.random.PRNGKey(1)

    def run():
        for i in range(a.steps_per_rep):
            st["p"], st["s"], m = step(st["p"], st["s"], {"tokens": tokens, "keep": keep, "carry": st["c"]},
                                       jax.random.fold_in(key, i), jnp.int32(i))
            st["c"] = m.pop("carry")
        jax.block_until_ready(m["loss"])
    t = timeit(run, a.reps) / a.steps_per_rep
    return {"impl": f"jaxseq (unroll {unroll})", "device": str(jax.devices()[0]), "s_per_step": t,
            "batch": a.batch, "chars_per_s": a.batch * a.seq_len / t}


def jax_row(a, unroll):
    import functools

    import jax
    import jax.numpy as jnp

    from jaxseq.models.row_lstm import model as rl
    from jaxseq.training import loop
    params = rl.init(jax.random.PRNGKey(0), rl.RowConfig(hidden=a.row_hidden))
    opt = loop.make_optimizer(loop.TrainConfig(lr=1e-3, clip_norm=1.0))
    step = loop.make_train_step(functools.partial(rl.loss_fn, unroll=unroll), opt)
    rng = np.random.default_rng(0)
    batch = {"x": jnp.asarray(rng.random((a.row_batch, 28, 28)), jnp.float32),
             "y": jnp.asarray(rng.integers(0, 10, a.row_batch), jnp.int32)}
    st = {"p": params, "s": opt.init(params)}

    def run():
        for i in range(a.steps_per_rep):
            st["p"], st["s"], m = step(st["p"], st["s"], batch, jax.random.PRNGKey(i), jnp.int32(i))
        jax.block_until_ready(m["loss"])
    t = timeit(run, a.reps) / a.steps_per_rep
    return {"impl": f"jaxseq (unroll {unroll})", "device": str(jax.devices()[0]), "s_per_step": t,
            "batch": a.row_batch,
            "images_per_s": a.row_batch / t}


# --------------------------------------------------------------------------------------- PyTorch
def torch_char_batch1(a, device):
    """The tutorial way: one character at a time through LSTMCell layers, batch 1."""
    torch, sync = torch_setup(device)
    from torch import nn

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(a.vocab, a.embed)
            self.cells = nn.ModuleList([nn.LSTMCell(a.embed if i == 0 else a.hidden, a.hidden)
                                        for i in range(a.layers)])
            self.drop = nn.Dropout(a.dropout)
            self.out = nn.Linear(a.hidden, a.vocab)

        def forward(self, ch, hidden):        # one character [1] -> logits [1, V]
            x, new = self.emb(ch), []
            for i, cell in enumerate(self.cells):
                h, c = cell(x if i == 0 else self.drop(x), hidden[i])
                new.append((h, c))
                x = h
            return self.out(self.drop(x)), new

    model = CharRNN().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    window = torch.as_tensor(np.random.default_rng(0).integers(1, a.vocab, a.seq_len + 1)).long().to(device)
    state = {"h": [(torch.zeros(1, a.hidden, device=device),) * 2 for _ in range(a.layers)]}
    loss_fn = nn.CrossEntropyLoss()

    def run():
        for _ in range(a.batch1_windows):
            hidden = [(h.detach(), c.detach()) for h, c in state["h"]]
            opt.zero_grad()
            loss = 0.0
            for t in range(a.seq_len):       # the tutorial's loop over the characters
                logits, hidden = model(window[t:t + 1], hidden)
                loss = loss + loss_fn(logits, window[t + 1:t + 2])
            (loss / a.seq_len).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            state["h"] = hidden
        sync()
    t = timeit(run, a.reps, warmup=1) / a.batch1_windows
    return {"impl": "PyTorch tutorial style (batch 1, Python loop over characters, LSTMCell)",
            "device": device, "s_per_step": t, "batch": 1, "chars_per_s": a.seq_len / t,
            "torch": torch.__version__}


def torch_char_batched(a, device):
    torch, sync = torch_setup(device)
    from torch import nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(a.vocab, a.embed)
            self.lstm = nn.LSTM(a.embed, a.hidden, a.layers, batch_first=True, dropout=a.dropout)
            self.drop = nn.Dropout(a.dropout)
            self.out = nn.Linear(a.hidden, a.vocab)

        def forward(self, x, hidden):
            y, hidden = self.lstm(self.emb(x), hidden)
            return self.out(self.drop(y)), hidden

    model = CharLSTM().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    tokens = torch.as_tensor(np.random.default_rng(0).integers(1, a.vocab, (a.batch, a.seq_len + 1))).long()
    tokens = tokens.to(device)
    zeros = torch.zeros(a.layers, a.batch, a.hidden, device=device)
    state = {"h": (zeros, zeros.clone())}

    def run():
        for _ in range(a.steps_per_rep):
            hidden = tuple(h.detach() for h in state["h"])
            opt.zero_grad()
            logits, hidden = model(tokens[:, :-1], hidden)
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            state["h"] = hidden
        sync()
    t = timeit(run, a.reps) / a.steps_per_rep
    return {"impl": "PyTorch batched (cuDNN nn.LSTM, state carried and detached)", "device": device,
            "s_per_step": t, "batch": a.batch, "chars_per_s": a.batch * a.seq_len / t,
            "torch": torch.__version__}


def torch_row(a, device, batch1):
    torch, sync = torch_setup(device)
    from torch import nn
    H = a.row_hidden

    class RowLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(28, H, batch_first=True)
            self.cell = nn.LSTMCell(28, H)
            self.out = nn.Linear(H, 10)

        def forward(self, x):
            if batch1:                       # tutorial style: a Python loop over the 28 rows
                h = c = x.new_zeros(1, H)
                for t in range(28):
                    h, c = self.cell(x[:, t], (h, c))
                return self.out(h)
            y, _ = self.lstm(x)
            return self.out(y[:, -1])

    model = RowLSTM().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    B = a.row_batch
    x = torch.as_tensor(rng.random((B, 28, 28)), dtype=torch.float32).to(device)
    y = torch.as_tensor(rng.integers(0, 10, B)).long().to(device)
    n = a.batch1_images if batch1 else a.steps_per_rep

    def one(xb, yb):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def run():
        for i in range(n):
            if batch1:
                j = i % B
                one(x[j:j + 1], y[j:j + 1])
            else:
                one(x, y)
        sync()
    t = timeit(run, a.reps, warmup=1) / n
    bs = 1 if batch1 else B
    return {"impl": "PyTorch tutorial style (batch 1, Python loop over rows, LSTMCell)" if batch1 else
            "PyTorch batched (cuDNN nn.LSTM)", "device": device, "s_per_step": t, "batch": bs,
            "images_per_s": bs / t, "torch": torch.__version__}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="PyTorch device (JAX uses its default backend)")
    p.add_argument("--quick", action="store_true", help="tiny sizes on the CPU: a smoke run")
    p.add_argument("--vocab", type=int, default=66)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=320)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.25)
    p.add_argument("--batch", type=int, default=128, help="char-LSTM streams per step")
    p.add_argument("--seq-len", type=int, default=128, help="characters per window")
    p.add_argument("--unrolls", default="1,4,8", help="lax.scan unrolls to time for the char-LSTM")
    p.add_argument("--row-unrolls", default="1,4,28", help="lax.scan unrolls to time for the row-LSTM")
    p.add_argument("--row-batch", type=int, default=128)
    p.add_argument("--row-hidden", type=int, default=128)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--steps-per-rep", type=int, default=10)
    p.add_argument("--batch1-windows", type=int, default=3, help="windows per timed rep, batch-1 char row")
    p.add_argument("--batch1-images", type=int, default=100, help="images per timed rep, batch-1 row row")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    p.add_argument("--out", help="write the results as JSON here")
    a = p.parse_args(argv)
    if a.quick:
        a.device, a.hidden, a.batch, a.seq_len, a.row_batch = "cpu", 32, 8, 16, 16
        a.reps, a.steps_per_rep, a.batch1_windows, a.batch1_images = 2, 2, 1, 4
    rows = {"char_lm": [], "row_lstm": []}

    def add(group, fn, *args):
        try:
            r = fn(*args)
        except Exception as e:  # noqa: BLE001 - one failing row must not lose the others
            r = {"impl": fn.__name__, "error": f"{type(e).__name__}: {e}"}
        rows[group].append(r)
        rate = r.get("chars_per_s", r.get("images_per_s"))
        print(f"{group:9s} {r['impl']:72s} " + (f"{r['s_per_step'] * 1e3:9.3f} ms/step {rate:14,.0f}/s "
              f"(batch {r['batch']})" if "error" not in r else r["error"]), flush=True)

    for u in [int(u) for u in a.unrolls.split(",")]:
        add("char_lm", jax_char, a, u)
    for u in [int(u) for u in a.row_unrolls.split(",")]:
        add("row_lstm", jax_row, a, u)
    if not a.no_torch:
        add("char_lm", torch_char_batched, a, a.device)
        add("char_lm", torch_char_batch1, a, a.device)
        add("row_lstm", torch_row, a, a.device, False)
        add("row_lstm", torch_row, a, a.device, True)
    import jax
    res = {"args": vars(a), "jax": jax.__version__, "python": platform.python_version(), **rows}
    if a.out:
        write_json(a.out, res)
        print("wrote", a.out)


if __name__ == "__main__":
    main()
