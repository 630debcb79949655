"""Speed of the Keras character seq2seq and the Luong chatbot: jaxseq against PyTorch peers written as the
notebook / tutorial write them, and batched.

    python benchmarks/chat_speed.py --device cuda --out runs/bench/chat_speed.json
    python benchmarks/chat_speed.py --quick --no-torch          # tiny sizes, CPU smoke run of the JAX half

Random weights and synthetic full-length sequences (speed only), the shipped models' sizes:
Keras char: one-hot characters (72 source, 92 target symbols), LSTM 256 encoder and decoder, source 17 and
target 59 characters, batch 64, RMSprop. Chatbot: vocabulary 1,383, hidden 160, 2 + 2 GRU layers (the
encoder bidirectional, directions summed), dot attention, 10 tokens each side, batch 64, Adam, clip 50.

Rows (each: warm-up, then the median of ``--reps`` timed repetitions, synchronised):
  train step   jaxseq one jitted step (fwd + bwd + optimizer, ``lax.scan``) vs PyTorch: Keras char with
               cuDNN ``nn.LSTM`` for both sides (what ``model.fit`` runs); chatbot as the tutorial trains,
               a Python loop over decoder steps with the masked NLL summed per step.
  decoding     jaxseq greedy search over the whole set in one jitted call vs PyTorch as the notebook /
               tutorial decode (batch 1, a Python loop over output steps, the argmax read back each step:
               the notebook's ``decode_sequence`` with ``model.predict``, the tutorial's
               ``GreedySearchDecoder``) and PyTorch batched (the same loop over the whole set at once).
Every decoder runs all ``max_len`` steps (no early stop) on both sides.
"""
from __future__ import annotations

import argparse
import json
import platform

import numpy as np
from _timing import timeit, torch_setup, train_steps, write_json   # benchmarks/ is on sys.path


def sizes(quick):
    if quick:
        return dict(vs=12, vt=14, H=16, S=6, T=9, B=8, n_dec=16, n_single=2,
                    vocab=50, ch=16, layers=2, L=6)
    return dict(vs=72, vt=92, H=256, S=17, T=59, B=64, n_dec=512, n_single=20,
                vocab=1383, ch=160, layers=2, L=10)


def data(z, seed=0):
    rng = np.random.default_rng(seed)
    kc = {"src": rng.integers(1, z["vs"], (z["B"], z["S"])).astype(np.int32),
          "tgt_in": rng.integers(1, z["vt"], (z["B"], z["T"])).astype(np.int32),
          "tgt_out": rng.integers(1, z["vt"], (z["B"], z["T"])).astype(np.int32)}
    kc["src_mask"] = np.ones(kc["src"].shape, np.float32)
    kc["tgt_mask"] = np.ones(kc["tgt_in"].shape, np.float32)
    cb = {k: rng.integers(4, z["vocab"], (z["B"], z["L"])).astype(np.int32)
          for k in ("src", "tgt_in", "tgt_out")}
    cb["src_mask"] = np.ones(cb["src"].shape, np.float32)
    cb["tgt_mask"] = np.ones(cb["tgt_in"].shape, np.float32)
    dec_kc = rng.integers(1, z["vs"], (z["n_dec"], z["S"])).astype(np.int32)
    dec_cb = rng.integers(4, z["vocab"], (z["n_dec"], z["L"])).astype(np.int32)
    return kc, cb, dec_kc, dec_cb


# ------------------------------------------------------------------------------------------- JAX
def bench_jax(z, reps):
    import jax
    import jax.numpy as jnp
    from jaxseq.models.seq2seq import chatbot as cbm, keras_char as kcm
    from jaxseq.training import loop
    kc, cb, dec_kc, dec_cb = data(z)
    out, trained = {"device": str(jax.devices()[0])}, {}
    kcfg = kcm.KerasCharConfig(z["vs"], z["vt"], z["H"])
    ccfg = cbm.ChatbotConfig(vocab=z["vocab"], hidden=z["ch"], layers=z["layers"], score="dot", dropout=0.0)
    for name, cfg, init, loss, batch, opt in (
            ("keras_char", kcfg, kcm.init, kcm.make_loss(kcfg), kc, "rmsprop"),
            ("chatbot", ccfg, cbm.init, cbm.make_loss(ccfg), cb, "adam")):
        params = init(jax.random.PRNGKey(0), cfg)
        o = loop.make_optimizer(loop.TrainConfig(lr=1e-3, clip_norm=50.0, optimizer=opt))
        step = loop.make_train_step(loss, o)
        b = {k: jnp.asarray(v) for k, v in batch.items()}
        run, state = train_steps(step, params, o.init(params), [b] * 10)
        out[f"{name}_train_ms"] = 1e3 * timeit(run, reps) / 10
        trained[name] = state["p"]
    kp, cp = trained["keras_char"], trained["chatbot"]
    src = jnp.asarray(dec_kc)

    def dec_kc_run():
        jax.block_until_ready(kcm.greedy(kp, kcfg, src, jnp.ones(src.shape), z["T"], 1, 2)[0])
    out["keras_char_decode_s"] = timeit(dec_kc_run, reps)
    out["keras_char_decode_sent_per_s"] = z["n_dec"] / out["keras_char_decode_s"]
    csrc = jnp.asarray(dec_cb)

    def dec_cb_run():
        jax.block_until_ready(cbm.decode(cp, ccfg, csrc, jnp.ones(csrc.shape), max_len=z["L"])[0])
    out["chatbot_decode_s"] = timeit(dec_cb_run, reps)
    out["chatbot_decode_sent_per_s"] = z["n_dec"] / out["chatbot_decode_s"]
    return out


# --------------------------------------------------------------------------------------- PyTorch
def bench_torch(z, reps, device):
    torch, sync = torch_setup(device, seed=None)
    import torch.nn.functional as F
    from torch import nn
    dev = torch.device(device)
    kc, cb, dec_kc, dec_cb = data(z)

    # Keras char: the notebook's model
    class KerasChar(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.LSTM(z["vs"], z["H"], batch_first=True)
            self.dec = nn.LSTM(z["vt"], z["H"], batch_first=True)
            self.out = nn.Linear(z["H"], z["vt"])

        def forward(self, x, y):
            _, st = self.enc(x)
            h, _ = self.dec(y, st)
            return self.out(h)

    km = KerasChar().to(dev)
    kopt = torch.optim.RMSprop(km.parameters(), lr=1e-3)
    x = F.one_hot(torch.as_tensor(kc["src"], dtype=torch.long, device=dev), z["vs"]).float()
    y = F.one_hot(torch.as_tensor(kc["tgt_in"], dtype=torch.long, device=dev), z["vt"]).float()
    t = torch.as_tensor(kc["tgt_out"], dtype=torch.long, device=dev)

    def k_train():
        for _ in range(10):
            kopt.zero_grad()
            loss = F.cross_entropy(km(x, y).reshape(-1, z["vt"]), t.reshape(-1))
            loss.backward()
            kopt.step()
        sync()
    out = {"keras_char_train_ms": 1e3 * timeit(k_train, reps) / 10}

    @torch.no_grad()
    def k_decode(src):       # src [N, S] ids; the notebook's decode_sequence, for N sequences at once
        xs = F.one_hot(torch.as_tensor(src, dtype=torch.long, device=dev), z["vs"]).float()
        _, (h, c) = km.enc(xs)
        tok = torch.full((len(src),), 1, dtype=torch.long, device=dev)
        outs = []
        for _ in range(z["T"]):
            o, (h, c) = km.dec(F.one_hot(tok, z["vt"]).float()[:, None], (h, c))
            tok = km.out(o[:, 0]).argmax(-1)
            if len(src) == 1:
                outs.append(tok.item())          # model.predict hands the distribution back each step
            else:
                outs.append(tok)
        sync()
        return outs

    n1 = z["n_single"]
    t1 = timeit(lambda: [k_decode(dec_kc[i:i + 1]) for i in range(n1)], max(1, reps // 3), warmup=1)
    out["keras_char_decode_batch1_sent_per_s"] = n1 / t1
    tb = timeit(lambda: k_decode(dec_kc), reps)
    out["keras_char_decode_batched_sent_per_s"] = z["n_dec"] / tb

    # chatbot: the tutorial's EncoderRNN / LuongAttnDecoderRNN (dot), train() and GreedySearchDecoder
    H, V, NL = z["ch"], z["vocab"], z["layers"]

    class Encoder(nn.Module):
        def __init__(self, emb):
            super().__init__()
            self.embedding = emb
            self.gru = nn.GRU(H, H, NL, bidirectional=True)

        def forward(self, seq):             # seq [L, B]
            out, hidden = self.gru(self.embedding(seq))
            return out[:, :, :H] + out[:, :, H:], hidden

    class Decoder(nn.Module):
        def __init__(self, emb):
            super().__init__()
            self.embedding = emb
            self.gru = nn.GRU(H, H, NL)
            self.concat = nn.Linear(2 * H, H)
            self.out = nn.Linear(H, V)

        def forward(self, step, hidden, enc):     # step [1, B]; enc [L, B, H]
            rnn_out, hidden = self.gru(self.embedding(step), hidden)
            w = F.softmax(torch.sum(rnn_out * enc, dim=2).t(), dim=1).unsqueeze(1)   # [B, 1, L]
            context = w.bmm(enc.transpose(0, 1)).squeeze(1)
            h = torch.tanh(self.concat(torch.cat((rnn_out.squeeze(0), context), 1)))
            return F.softmax(self.out(h), dim=1), hidden

    emb = nn.Embedding(V, H).to(dev)
    enc, dec = Encoder(emb).to(dev), Decoder(emb).to(dev)
    params = list(enc.parameters()) + [p for n, p in dec.named_parameters() if not n.startswith("embedding")]
    opt = torch.optim.Adam(params, lr=1e-3)
    src = torch.as_tensor(cb["src"].T.copy(), dtype=torch.long, device=dev)
    tin = torch.as_tensor(cb["tgt_in"].T.copy(), dtype=torch.long, device=dev)
    tout = torch.as_tensor(cb["tgt_out"].T.copy(), dtype=torch.long, device=dev)
    mask = torch.ones_like(tout, dtype=torch.bool)

    def c_train():
        for _ in range(10):
            opt.zero_grad()
            enc_out, enc_hidden = enc(src)
            hidden = enc_hidden[:NL]
            loss = 0.0
            for s in range(tin.shape[0]):
                probs, hidden = dec(tin[s:s + 1], hidden, enc_out)
                nll = -torch.log(torch.gather(probs, 1, tout[s].view(-1, 1)).squeeze(1))
                loss = loss + nll.masked_select(mask[s]).mean()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 50.0)
            opt.step()
        sync()
    out["chatbot_train_ms"] = 1e3 * timeit(c_train, reps) / 10

    @torch.no_grad()
    def c_decode(ids):          # ids [N, L]: the tutorial's GreedySearchDecoder, N sentences at once
        seq = torch.as_tensor(ids.T.copy(), dtype=torch.long, device=dev)
        enc_out, enc_hidden = enc(seq)
        hidden = enc_hidden[:NL]
        step = torch.ones((1, len(ids)), dtype=torch.long, device=dev)
        toks = []
        for _ in range(z["L"]):
            probs, hidden = dec(step, hidden, enc_out)
            scores, step = torch.max(probs, dim=1)
            toks.append(step)
            step = step.unsqueeze(0)
        sync()
        return [int(t.item()) for t in toks] if len(ids) == 1 else toks

    t1 = timeit(lambda: [c_decode(dec_cb[i:i + 1]) for i in range(n1)], max(1, reps // 3), warmup=1)
    out["chatbot_decode_batch1_sent_per_s"] = n1 / t1
    tb = timeit(lambda: c_decode(dec_cb), reps)
    out["chatbot_decode_batched_sent_per_s"] = z["n_dec"] / tb
    out["torch"] = torch.__version__
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="PyTorch device (cuda or cpu)")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a CPU smoke run)")
    ap.add_argument("--no-torch", action="store_true", help="only the JAX rows")
    ap.add_argument("--out", help="write the results as JSON here")
    a = ap.parse_args()
    z = sizes(a.quick)
    res = {"sizes": z, "python": platform.python_version(), "jax": bench_jax(z, a.reps)}
    if not a.no_torch:
        res["torch"] = bench_torch(z, a.reps, a.device)
    print(json.dumps(res, indent=1))
    if a.out:
        write_json(a.out, res)


if __name__ == "__main__":
    main()
