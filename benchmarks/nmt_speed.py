"""Training throughput (target tokens/s) of the Luong NMT model: JAX against two PyTorch peers; and
test-set decoding speed (sentences/s) of shipped checkpoints.

    python benchmarks/nmt_speed.py --device cuda --out runs/bench/nmt.json
    python benchmarks/nmt_speed.py --quick                 # tiny sizes, CPU smoke run
    python benchmarks/nmt_speed.py --decode eng-fra --decode fra-eng --out runs/bench/nmt_decode.json
    python benchmarks/nmt_speed.py --decode eng-fra --quick     # 64 test sentences

Decoding (``--decode NAME_OR_DIR``, repeatable; needs the data for the test split): the checkpoint's own
test split, translated from raw text with ``Translator.translate`` (batched, sorted by length, jitted;
early-stopping search), beam 5 and greedy. Each search runs twice: the first pass includes compilation
(what a one-off ``--src`` run pays), the second is the steady state (reported as sentences/s).

Same model in every row: embeddings, 1-layer bidirectional LSTM encoder (hidden/2 per direction), LSTM
decoder with input feeding, Luong ``general`` attention, ``tanh(W_c[c; h])``, softmax output; Adam,
gradient clipping; synthetic sentences of ``--src-len``/``--tgt-len`` tokens (all real, no padding).
Rows:
  (a) JAX: one jitted train step (fwd + bwd + Adam) over a batch, encoder and decoder as ``lax.scan``;
  (b) PyTorch peer in the style of the PyTorch seq2seq tutorial: batch size 1, the decoder a Python loop
      over target steps, one optimizer step per sentence;
  (c) batched PyTorch: cuDNN ``nn.LSTM`` encoder, ``nn.LSTMCell`` decoder loop over time, same batch.
Each row: warm-up, then the median of ``--reps`` timed repetitions, synchronised. torch is imported only
inside the PyTorch rows (``--no-torch`` skips them).
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from _timing import timeit, torch_setup, train_steps, write_json   # benchmarks/ is on sys.path


# ------------------------------------------------------------------------------------------- JAX
def bench_jax(a, batch, reps):
    import jax
    import jax.numpy as jnp
    from jaxseq.models.nmt import model as nmt
    from jaxseq.training import loop as train
    cfg = nmt.NMTConfig(src_vocab=a.vocab, tgt_vocab=a.vocab, emb=a.emb, hidden=a.hidden, layers=a.layers,
                        score="general", dropout=0.0, unroll=a.unroll,
                        compute_dtype="bfloat16" if a.bf16 else "float32")
    params = nmt.init(jax.random.PRNGKey(0), cfg)
    opt = train.make_optimizer(train.TrainConfig(lr=1e-3, clip_norm=5.0))
    step = train.make_train_step(nmt.make_loss(cfg), opt)
    batch = {k: jnp.asarray(v) for k, v in batch.items()}
    run, _ = train_steps(step, params, opt.init(params), [batch] * a.steps_per_rep)
    t = timeit(run, reps)
    return {"device": str(jax.devices()[0]), "s_per_step": t / a.steps_per_rep}


# --------------------------------------------------------------------------------------- PyTorch
def torch_model(a, device):
    import torch
    from torch import nn

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            H, E, V = a.hidden, a.emb, a.vocab
            self.src_emb, self.tgt_emb = nn.Embedding(V, E), nn.Embedding(V, E)
            self.enc = nn.LSTM(E, H // 2, num_layers=a.layers, bidirectional=True, batch_first=True)
            self.cells = nn.ModuleList([nn.LSTMCell(E + H if i == 0 else H, H) for i in range(a.layers)])
            self.attn_w = nn.Linear(H, H, bias=False)       # general score: h^T W h_s
            self.wc = nn.Linear(2 * H, H, bias=False)
            self.out = nn.Linear(H, V)

        def forward(self, src, tgt_in, tgt_out):
            B, T = tgt_in.shape
            enc, (hn, cn) = self.enc(self.src_emb(src))                      # [B, S, H]
            L = len(self.cells)
            # bidirectional finals [2L, B, H/2] -> per layer [B, H]
            h = [torch.cat([hn[2 * i], hn[2 * i + 1]], -1) for i in range(L)]
            c = [torch.cat([cn[2 * i], cn[2 * i + 1]], -1) for i in range(L)]
            keys = self.attn_w(enc)                                           # hoisted
            h_tilde = enc.new_zeros(B, enc.shape[-1])
            emb = self.tgt_emb(tgt_in)
            outs = []
            for t in range(T):
                x = torch.cat([emb[:, t], h_tilde], -1)
                for i, cell in enumerate(self.cells):
                    h[i], c[i] = cell(x, (h[i], c[i]))
                    x = h[i]
                w = torch.softmax(torch.einsum("bh,bsh->bs", x, keys), -1)
                ctx = torch.einsum("bs,bsh->bh", w, enc)
                h_tilde = torch.tanh(self.wc(torch.cat([ctx, x], -1)))
                outs.append(h_tilde)
            logits = self.out(torch.stack(outs, 1))                            # [B, T, V]
            return nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out.flatten())

    torch.manual_seed(0)
    return Seq2Seq().to(device)


def bench_torch(a, batch, reps, device, batch1):
    torch, sync = torch_setup(device, seed=None)   # torch_model seeds
    model = torch_model(a, device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    src, tgt_in, tgt_out = (torch.as_tensor(batch[k]).long().to(device) for k in ("src", "tgt_in", "tgt_out"))
    B = src.shape[0]
    n = a.batch1_sentences if batch1 else B

    def one(s, ti, to):
        opt.zero_grad()
        loss = model(s, ti, to)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return loss

    def run():
        if batch1:  # tutorial style: one sentence per optimizer step
            for i in range(n):
                # cycle through the batch: --batch1-sentences may exceed --batch-size, and a slice past the
                # end would be an empty sentence (0 target tokens; cross_entropy cannot reshape it)
                j = i % B
                one(src[j:j + 1], tgt_in[j:j + 1], tgt_out[j:j + 1])
        else:
            for _ in range(a.steps_per_rep):
                one(src, tgt_in, tgt_out)
        sync()
    t = timeit(run, reps, warmup=1 if batch1 else 2)
    steps = n if batch1 else a.steps_per_rep
    return {"device": device, "s_per_step": t / steps, "batch": 1 if batch1 else src.shape[0],
            "torch": torch.__version__}


# -------------------------------------------------------------------------------------- decoding
def bench_decode(a):
    """{checkpoint: {beam: {cold_s, warm_s, sent_per_s, bleu, chrf}}} on each checkpoint's test split."""
    import jax

    from jaxseq import metrics, nmt
    from jaxseq.data.vocab import normalise
    from jaxseq.models.nmt import training
    import logging
    logging.getLogger("jaxseq").setLevel(logging.ERROR)   # no per-sentence <unk> warnings
    out = {}
    for name in a.decode:
        tr = nmt.load(name)
        cfg = training.Config.from_meta(tr.meta["config"])
        data = training.prepare(cfg, a.data_dir, None, tr.src_vocab if tr.truecase else None)
        srcs, refs = data.srcs["test"], data.refs["test"]
        if a.sentences:
            srcs, refs = srcs[:a.sentences], refs[:a.sentences]
        skipped = 0
        if not tr.truecase:   # a word model refuses sentences with no known word: leave them out
            keep = []
            for s_, r_ in zip(srcs, refs):
                try:
                    tr.check([s_])
                    keep.append((s_, normalise(r_)))
                except ValueError:
                    skipped += 1
            srcs, refs = [k for k, _ in keep], [r for _, r in keep]
        rows = {"lang": tr.lang, "text": cfg.text, "sentences": len(srcs), "skipped": skipped,
                "device": str(jax.devices()[0]), "decode_batch": a.decode_batch}
        for beam in a.beams:
            t0 = time.perf_counter()
            tr.translate(srcs, beam=beam, batch_size=a.decode_batch)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            hyps = tr.translate(srcs, beam=beam, batch_size=a.decode_batch)
            warm = time.perf_counter() - t0
            r = {"cold_s": cold, "warm_s": warm, "sent_per_s": len(srcs) / warm,
                 "bleu": metrics.bleu(hyps, refs), "chrf": metrics.chrf(hyps, refs)}
            rows[f"beam{beam}"] = r
            print(f"{name:10s} beam {beam}: {r['sent_per_s']:8.1f} sentences/s warm ({warm:.1f} s; first pass "
                  f"with compilation {cold:.1f} s), {len(srcs)} sentences, BLEU {r['bleu']:.2f}, chrF "
                  f"{r['chrf']:.2f}  [{rows['device']}]", flush=True)
        out[name] = rows
    return out


def check_args(p, a):
    """Every size must be positive (an empty batch or sentence has no tokens to time); ``p.error`` exits."""
    for name in ("batch_size", "src_len", "tgt_len", "emb", "hidden", "layers", "unroll", "reps",
                 "steps_per_rep", "batch1_sentences"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    if a.vocab < 5:
        p.error(f"--vocab must be >= 5 (ids 0-3 are reserved, tokens are drawn from [4, vocab)), "
                f"got {a.vocab}")
    if a.hidden % 2:
        p.error(f"--hidden must be even (the bidirectional encoder has hidden/2 per direction), "
                f"got {a.hidden}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="PyTorch device for the peers (cuda or cpu); JAX uses "
                   "its default backend")
    p.add_argument("--quick", action="store_true", help="tiny sizes, CPU: a smoke run")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--src-len", type=int, default=10)
    p.add_argument("--tgt-len", type=int, default=11)
    p.add_argument("--vocab", type=int, default=5000)
    p.add_argument("--emb", type=int, default=256)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--unroll", type=int, default=1, help="lax.scan unroll in the JAX model")
    p.add_argument("--bf16", action="store_true", help="also time JAX with bfloat16 compute")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps-per-rep", type=int, default=20, help="batched train steps per timed rep")
    p.add_argument("--batch1-sentences", type=int, default=200, help="sentences per timed rep, batch-1 row")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    p.add_argument("--decode", action="append", metavar="CKPT", help="time test-set decoding of this "
                   "shipped model name or checkpoint dir instead of training (repeatable)")
    p.add_argument("--beams", default="5,1", help="with --decode: beam sizes to time (1: greedy)")
    p.add_argument("--sentences", type=int, default=0, help="with --decode: the first N test sentences "
                   "(0: all; --quick: 64)")
    p.add_argument("--decode-batch", type=int, default=64, help="with --decode: sentences per batch")
    p.add_argument("--data-dir", help="with --decode: data root holding pytorch-tutorial/data.zip")
    p.add_argument("--out", help="write the results as JSON here")
    a = p.parse_args(argv)
    if a.decode:
        a.beams = [int(b) for b in a.beams.split(",")]
        if a.quick and not a.sentences:
            a.sentences = 64
        if a.sentences < 0 or a.decode_batch < 1 or min(a.beams) < 1:
            p.error("--sentences >= 0, --decode-batch >= 1 and beams >= 1")
        rows = bench_decode(a)
        if a.out:
            write_json(a.out, {"args": vars(a), "host": platform.node(), "decode": rows})
            print(f"wrote {a.out}")
        return
    if a.quick:
        a.device, a.batch_size, a.vocab, a.emb, a.hidden = "cpu", 16, 500, 32, 64
        # more batch-1 sentences than the batch holds, so the wrap-around of the batch-1 row is exercised
        a.reps, a.steps_per_rep, a.batch1_sentences = 2, 3, 20
    check_args(p, a)
    rng = np.random.default_rng(0)
    B, S, T = a.batch_size, a.src_len, a.tgt_len
    batch = {"src": rng.integers(4, a.vocab, (B, S)).astype(np.int32),
             "src_mask": np.ones((B, S), np.float32),
             "tgt_out": rng.integers(4, a.vocab, (B, T)).astype(np.int32),
             "tgt_mask": np.ones((B, T), np.float32)}
    batch["tgt_in"] = np.concatenate([np.ones((B, 1), np.int32), batch["tgt_out"][:, :-1]], 1)
    rows = {}

    def report(name, r, batch_size):
        r["tokens_per_s"] = batch_size * T / r["s_per_step"]
        rows[name] = r
        print(f"{name:28s} {r['tokens_per_s']:12.0f} target tokens/s  ({r['s_per_step'] * 1e3:.2f} ms/step, "
              f"batch {batch_size}, {r['device']})", flush=True)

    print(f"sizes: batch {B}, src {S}, tgt {T}, vocab {a.vocab}, emb {a.emb}, hidden {a.hidden}, "
          f"layers {a.layers}")
    report("jax", bench_jax(a, batch, a.reps), B)
    if a.bf16:
        report("jax_bf16", bench_jax(argparse.Namespace(**{**vars(a), "bf16": True}), batch, a.reps), B)
    if not a.no_torch:
        report("torch_batch1_tutorial", bench_torch(a, batch, max(1, a.reps // 2), a.device, True), 1)
        report("torch_batched", bench_torch(a, batch, a.reps, a.device, False), B)
        j = rows["jax"]["tokens_per_s"]
        speedup = {"vs_batch1": j / rows["torch_batch1_tutorial"]["tokens_per_s"],
                   "vs_batched": j / rows["torch_batched"]["tokens_per_s"]}
        rows["speedup"] = speedup
        met = lambda ok: "met" if ok else "NOT met"
        print(f"speed-up: {speedup['vs_batch1']:.1f}x vs batch-1 peer (target >= 50x: "
              f"{met(speedup['vs_batch1'] >= 50)}), {speedup['vs_batched']:.2f}x vs batched PyTorch at "
              f"batch {B} (target >= 1.5x: {met(speedup['vs_batched'] >= 1.5)})")
    if a.out:
        write_json(a.out, {"args": vars(a), "host": platform.node(), "rows": rows})
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
