"""Training throughput (target tokens/s) of the seq2seq models against PyTorch peers, in one run.

    python benchmarks/seq2seq_speed.py --device cuda --out runs/bench/seq2seq.json
    python benchmarks/seq2seq_speed.py --quick                # tiny sizes, CPU, JAX rows only if no torch

Models (sizes of the eng-fra runs: vocab ~1.5k, embeddings 256, GRU 512, sentences of 10 tokens):
  simple         GRU encoder, final state -> GRU decoder (the tutorial's EncoderRNN + DecoderRNN)
  tutorial-attn  GRU encoder, the tutorial's AttnDecoderRNN (attention Linear over max_length = 10)
  transformer    pre-LN encoder-decoder, 3+3 layers, d=256, 4 heads, ff 1024, label smoothing 0.1
Rows per model:
  jax            one jitted train step (fwd + bwd + Adam) over a batch (jaxseq.models.seq2seq, scan loops);
                 jax_unrollN: the same with lax.scan unroll N (RNN models, --unrolls)
  torch_batch1   the PyTorch tutorial's own training code: batch size 1, the encoder *and* the decoder a
                 Python loop over tokens (``for ei in range(input_length): encoder(...)``), one optimizer
                 step per sentence (RNN models; the tutorial has no Transformer)
  torch_batched  the same model batched: cuDNN nn.GRU encoder; the simple decoder one cuDNN nn.GRU call
                 over the teacher-forced target, the attention decoder an nn.GRUCell loop;
                 nn.Transformer(norm_first=True) for the Transformer
Teacher forcing 1.0 and Adam everywhere (the tutorial's 0.5 ratio and SGD change the work per step
little). Each row: warm-up, then the median of --reps timed repetitions, synchronised.
"""
from __future__ import annotations

import argparse
import math
import platform

import numpy as np
from _timing import timeit, torch_setup, train_steps, write_json   # benchmarks/ is on sys.path

MODELS = ("simple", "tutorial-attn", "transformer")


# ------------------------------------------------------------------------------------------- JAX
def jax_config(name, a, unroll=1):
    from jaxseq.models.seq2seq import simple, transformer, tutorial_attn
    if name == "simple":
        return simple.Config(a.vocab, a.vocab, emb=a.emb, hidden=a.hidden, tf_ratio=1.0, unroll=unroll)
    if name == "tutorial-attn":
        return tutorial_attn.Config(a.vocab, a.vocab, emb=a.emb, hidden=a.hidden, max_length=a.src_len,
                                    tf_ratio=1.0, unroll=unroll)
    return transformer.Config(a.vocab, a.vocab, d_model=a.d_model, heads=a.heads, ff=a.ff,
                              enc_layers=a.layers, dec_layers=a.layers)


def bench_jax(name, a, batch, unroll=1):
    import jax
    import jax.numpy as jnp
    from jaxseq.models.seq2seq import common
    from jaxseq.training import loop as train
    cfg = jax_config(name, a, unroll)
    params = common.module_of(cfg).init(jax.random.PRNGKey(0), cfg)
    opt = train.make_optimizer(train.TrainConfig(lr=1e-3, clip_norm=5.0))
    step = train.make_train_step(common.make_loss(cfg), opt)
    batch = {k: jnp.asarray(v) for k, v in batch.items()}
    run, _ = train_steps(step, params, opt.init(params), [batch] * a.steps_per_rep)
    return {"device": str(jax.devices()[0]), "s_per_step": timeit(run, a.reps) / a.steps_per_rep,
            "params": common.count_params(params)}


# --------------------------------------------------------------------------------------- PyTorch
def torch_tutorial(a, device, attention):
    """The tutorial's EncoderRNN and DecoderRNN / AttnDecoderRNN, verbatim but for E != H."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    V, E, H, M = a.vocab, a.emb, a.hidden, a.src_len

    class EncoderRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding, self.gru = nn.Embedding(V, E), nn.GRU(E, H)

        def forward(self, input, hidden):
            output, hidden = self.gru(self.embedding(input).view(1, 1, -1), hidden)
            return output, hidden

    class DecoderRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding, self.gru, self.out = nn.Embedding(V, E), nn.GRU(E, H), nn.Linear(H, V)

        def forward(self, input, hidden, encoder_outputs):
            output, hidden = self.gru(F.relu(self.embedding(input).view(1, 1, -1)), hidden)
            return F.log_softmax(self.out(output[0]), dim=1), hidden, None

    class AttnDecoderRNN(nn.Module):
        def __init__(self, dropout_p=0.1):
            super().__init__()
            self.embedding = nn.Embedding(V, E)
            self.attn, self.attn_combine = nn.Linear(E + H, M), nn.Linear(E + H, H)
            self.dropout, self.gru, self.out = nn.Dropout(dropout_p), nn.GRU(H, H), nn.Linear(H, V)

        def forward(self, input, hidden, encoder_outputs):
            embedded = self.dropout(self.embedding(input).view(1, 1, -1))
            attn_weights = F.softmax(self.attn(torch.cat((embedded[0], hidden[0]), 1)), dim=1)
            attn_applied = torch.bmm(attn_weights.unsqueeze(0), encoder_outputs.unsqueeze(0))
            output = F.relu(self.attn_combine(torch.cat((embedded[0], attn_applied[0]), 1)).unsqueeze(0))
            output, hidden = self.gru(output, hidden)
            return F.log_softmax(self.out(output[0]), dim=1), hidden, attn_weights

    torch.manual_seed(0)
    return EncoderRNN().to(device), (AttnDecoderRNN() if attention else DecoderRNN()).to(device)


def tutorial_train_one(encoder, decoder, opt, src, tgt, H, M, device):
    """The tutorial's ``train()`` for one pair (src, tgt: 1-D LongTensors), teacher forced."""
    import torch
    opt.zero_grad()
    hidden = torch.zeros(1, 1, H, device=device)
    encoder_outputs = torch.zeros(M, H, device=device)
    for ei in range(src.shape[0]):
        out, hidden = encoder(src[ei], hidden)
        encoder_outputs[ei] = out[0, 0]
    decoder_input = torch.tensor([[1]], device=device)   # SOS
    loss = 0
    for di in range(tgt.shape[0]):
        decoder_output, hidden, _ = decoder(decoder_input, hidden, encoder_outputs)
        loss = loss + torch.nn.functional.nll_loss(decoder_output, tgt[di:di + 1])
        decoder_input = tgt[di]
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(encoder.parameters()) + list(decoder.parameters()), 5.0)
    opt.step()
    return loss


def torch_batched(name, a, device):
    import torch
    from torch import nn
    V, E, H = a.vocab, a.emb, a.hidden

    class RNN(nn.Module):
        def __init__(self, attention):
            super().__init__()
            self.attention = attention
            self.src_emb, self.tgt_emb = nn.Embedding(V, E), nn.Embedding(V, E)
            self.enc = nn.GRU(E, H, batch_first=True)
            if attention:
                self.attn, self.combine = nn.Linear(E + H, a.src_len), nn.Linear(E + H, H)
                self.cell = nn.GRUCell(H, H)
            else:
                self.dec = nn.GRU(E, H, batch_first=True)
            self.out = nn.Linear(H, V)

        def forward(self, src, tgt_in, tgt_out):
            enc, h = self.enc(self.src_emb(src))
            emb = self.tgt_emb(tgt_in)
            if not self.attention:   # teacher forced: one cuDNN call over the whole target
                outs, _ = self.dec(torch.relu(emb), h)
            else:
                h, steps = h[0], []
                for t in range(tgt_in.shape[1]):
                    w = torch.softmax(self.attn(torch.cat([emb[:, t], h], -1)), -1)
                    ctx = torch.einsum("bm,bmh->bh", w, enc)
                    h = self.cell(torch.relu(self.combine(torch.cat([emb[:, t], ctx], -1))), h)
                    steps.append(h)
                outs = torch.stack(steps, 1)
            return nn.functional.cross_entropy(self.out(outs).flatten(0, 1), tgt_out.flatten())

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            d = a.d_model
            self.src_emb, self.tgt_emb = nn.Embedding(V, d), nn.Embedding(V, d)
            self.core = nn.Transformer(d, a.heads, a.layers, a.layers, a.ff, 0.1, batch_first=True,
                                       norm_first=True)
            self.out_b = nn.Parameter(torch.zeros(V))
            pos = torch.arange(64)[:, None] / 10000 ** (torch.arange(0, d, 2) / d)
            self.register_buffer("pe", torch.stack([pos.sin(), pos.cos()], -1).flatten(1))

        def forward(self, src, tgt_in, tgt_out):
            d = self.pe.shape[1]
            s = self.src_emb(src) * math.sqrt(d) + self.pe[:src.shape[1]]
            t = self.tgt_emb(tgt_in) * math.sqrt(d) + self.pe[:tgt_in.shape[1]]
            causal = self.core.generate_square_subsequent_mask(tgt_in.shape[1], device=src.device)
            x = self.core(s, t, tgt_mask=causal)
            logits = x @ self.tgt_emb.weight.T + self.out_b   # tied output, as in the JAX model
            return nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), label_smoothing=0.1)

    torch.manual_seed(0)
    return (Transformer() if name == "transformer" else RNN(name == "tutorial-attn")).to(device)


def bench_torch(name, a, batch, device, batch1):
    torch, sync = torch_setup(device, seed=None)   # the model builders seed
    src, tgt_in, tgt_out = (torch.as_tensor(batch[k]).long().to(device) for k in ("src", "tgt_in", "tgt_out"))
    B = src.shape[0]
    if batch1:
        enc, dec = torch_tutorial(a, device, name == "tutorial-attn")
        params = list(enc.parameters()) + list(dec.parameters())
        opt = torch.optim.Adam(params, lr=1e-3)

        def run():
            for i in range(a.batch1_sentences):
                j = i % B
                tutorial_train_one(enc, dec, opt, src[j], tgt_out[j], a.hidden, a.src_len, device)
            sync()
        n = a.batch1_sentences
    else:
        model = torch_batched(name, a, device)
        params = list(model.parameters())
        opt = torch.optim.Adam(params, lr=1e-3)

        def run():
            for _ in range(a.steps_per_rep):
                opt.zero_grad()
                model(src, tgt_in, tgt_out).backward()
                torch.nn.utils.clip_grad_norm_(params, 5.0)
                opt.step()
            sync()
        n = a.steps_per_rep
    t = timeit(run, max(1, a.reps // 2) if batch1 else a.reps, warmup=1 if batch1 else 2)
    return {"device": device, "s_per_step": t / n, "torch": torch.__version__,
            "params": sum(p.numel() for p in params)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="PyTorch device of the peers (JAX uses its default)")
    p.add_argument("--quick", action="store_true", help="tiny sizes on the CPU: a smoke run")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--src-len", type=int, default=10, help="source tokens (= the tutorial's max_length)")
    p.add_argument("--tgt-len", type=int, default=10)
    p.add_argument("--vocab", type=int, default=1500)
    p.add_argument("--emb", type=int, default=256)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ff", type=int, default=1024)
    p.add_argument("--layers", type=int, default=3, help="transformer encoder and decoder layers")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps-per-rep", type=int, default=20)
    p.add_argument("--batch1-sentences", type=int, default=100)
    p.add_argument("--unrolls", default="4", help="extra JAX rows of the RNN models with these lax.scan "
                   "unroll factors (comma-separated; empty: none)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    p.add_argument("--out", help="write the results as JSON here")
    a = p.parse_args(argv)
    if a.quick:
        a.device, a.batch_size, a.vocab, a.emb, a.hidden, a.d_model, a.ff, a.layers = "cpu", 8, 50, 16, 32, 16, 32, 1
        a.heads, a.reps, a.steps_per_rep, a.batch1_sentences = 2, 2, 2, 10
    models = [m for m in a.models.split(",") if m]
    try:
        a.unrolls = [int(u) for u in a.unrolls.split(",") if u.strip()]
    except ValueError:
        p.error(f"--unrolls {a.unrolls}: give comma-separated integers")
    if any(u < 1 for u in a.unrolls):
        p.error(f"--unrolls {a.unrolls}: unroll factors are >= 1")
    if any(m not in MODELS for m in models):
        p.error(f"--models {a.models}: choose from {', '.join(MODELS)}")
    for name in ("batch_size", "src_len", "tgt_len", "emb", "hidden", "d_model", "ff", "layers", "reps",
                 "steps_per_rep", "batch1_sentences"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if a.vocab < 5:
        p.error("--vocab must be >= 5 (ids 0-3 are reserved)")
    rng = np.random.default_rng(0)
    B, S, T = a.batch_size, a.src_len, a.tgt_len
    batch = {"src": rng.integers(4, a.vocab, (B, S)).astype(np.int32), "src_mask": np.ones((B, S), np.float32),
             "tgt_out": rng.integers(4, a.vocab, (B, T)).astype(np.int32), "tgt_mask": np.ones((B, T), np.float32)}
    batch["tgt_in"] = np.concatenate([np.ones((B, 1), np.int32), batch["tgt_out"][:, :-1]], 1)
    print(f"sizes: batch {B}, src {S}, tgt {T}, vocab {a.vocab}, emb {a.emb}, hidden {a.hidden}, "
          f"transformer d {a.d_model} x {a.layers}+{a.layers}", flush=True)
    rows = {}
    for m in models:
        r = rows[m] = {}

        def report(kind, res, batch_size):
            res["tokens_per_s"] = batch_size * T / res["s_per_step"]
            r[kind] = res
            print(f"{m:14s} {kind:14s} {res['tokens_per_s']:12.0f} target tokens/s ({res['s_per_step'] * 1e3:8.2f} "
                  f"ms/step, batch {batch_size}, {res['params'] / 1e6:.2f}M params, {res['device']})", flush=True)
        report("jax", bench_jax(m, a, batch), B)
        for u in a.unrolls if m != "transformer" else ():   # lax.scan unroll: a GPU speed knob of the RNNs
            report(f"jax_unroll{u}", bench_jax(m, a, batch, u), B)
        if not a.no_torch:
            if m != "transformer":
                report("torch_batch1", bench_torch(m, a, batch, a.device, True), 1)
            report("torch_batched", bench_torch(m, a, batch, a.device, False), B)
            best = max(v["tokens_per_s"] for k, v in r.items() if k.startswith("jax"))
            r["speedup"] = {k: best / r[k]["tokens_per_s"] for k in ("torch_batch1", "torch_batched") if k in r}
            print(f"{m:14s} JAX (best row) speed-up: " + ", ".join(f"{v:.1f}x vs {k}" for k, v in r["speedup"].items()),
                  flush=True)
        if a.out:   # after every model: a run cut short keeps the rows it measured
            write_json(a.out, {"args": vars(a), "host": platform.node(), "rows": rows})
    if a.out:
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
