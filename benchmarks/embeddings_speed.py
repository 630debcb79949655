"""Training speed of the word-embedding models and of the POS tagger: jaxseq against PyTorch peers, in
one run on one device.

    python benchmarks/embeddings_speed.py --device cuda --data-dir .devcarry/data --out runs/b/embeddings_speed.json
    python benchmarks/embeddings_speed.py --quick          # tiny repetitions, JAX rows only without torch

Rows (examples/s for the word models, sentences/s for the tagger; every jaxseq row is one jitted train
step, ``loop.make_train_step``, fwd + bwd + optimizer):
  ngram  the tutorial's N-gram LM (context 2, embedding --dim, ReLU 128, full softmax over the tiny
         Shakespeare vocabulary), on real (context, word) examples of tiny Shakespeare:
         (a) jaxseq, batch --batch; (b) PyTorch written the tutorial way: batch 1, a Python loop, one
         SGD step per example, the tensors built from Python ints each step; (c) PyTorch batched.
  skipgram_{neg,nce,softmax}  skip-gram with negative sampling (k per example, unigram^0.75), NCE
         (tf.nn.nce_loss: k shared noise words per batch, log-uniform, log(kQ) correction) and the full
         softmax, on real skip-gram pairs; jaxseq vs a batched PyTorch peer with the same math
         (``torch.multinomial`` for the noise) and the same SGD (momentum 0.9).
  tagger the LSTM tagger with the char-LSTM augmentation (word emb 32, LSTM 64, char emb 16, char LSTM
         32, 17 tags): (a) jaxseq, --tag-batch sentences of --tag-len words of --word-len letters,
         padded and masked; (b) PyTorch the tutorial way: one sentence a step, the char LSTM run word by
         word in a Python loop; (c) PyTorch batched: cuDNN nn.LSTM over all words' letters at once, then
         over the words. Sentences are synthetic ids of fixed length (a speed test only).
Each row: warm-up, then the median of --reps timed repetitions, synchronised. torch is imported only in
the PyTorch rows (--no-torch skips them); the embedding rows need tiny Shakespeare (--data-dir).
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from _timing import timeit, torch_setup, train_steps, write_json   # benchmarks/ is on sys.path


def corpus_examples(a):
    from jaxseq.models.embeddings import corpus as wc
    sents, _ = wc.read_sentences("shakespeare", a.data_dir)
    c = wc.build(sents, 3)
    out = {m: wc.examples(m, c.train, 2) for m in ("ngram", "skipgram")}
    return c, out


def batch_of(xy, n, seed=0):
    x, y = xy
    i = np.random.default_rng(seed).integers(0, len(y), n)
    return x[i], y[i]


# ------------------------------------------------------------------------------------------- JAX
def jax_words(a, corp, xy, model, loss, method=None):
    import jax
    import jax.numpy as jnp
    from jaxseq.models.embeddings import EmbedModelConfig, Noise, init, make_loss
    from jaxseq.training import loop
    cfg = EmbedModelConfig(len(corp.vocab), model, a.dim, 2, 128)
    noise = None if loss == "softmax" else Noise(corp.counts, "unigram75" if loss == "neg" else "log_uniform", a.k,
                                                 method)
    opt = loop.make_optimizer(loop.TrainConfig(optimizer="sgd", lr=0.1, clip_norm=0.0))
    step = loop.make_train_step(make_loss(cfg, loss, noise), opt)
    params = init(jax.random.PRNGKey(0), cfg)
    x, y = batch_of(xy, a.batch)
    batch = {"x": jnp.asarray(x), "y": jnp.asarray(y)}
    run, _ = train_steps(step, params, opt.init(params), [batch] * a.steps_per_rep, fold_key=True)
    t = timeit(run, a.reps) / a.steps_per_rep
    return {"ms_per_step": 1e3 * t, "examples_per_s": a.batch / t, "batch": a.batch}


def tagger_batch(a, V, C, K, B, seed=0):
    rng = np.random.default_rng(seed)
    T, L = a.tag_len, a.word_len
    return {"words": rng.integers(4, V, (B, T)).astype(np.int32), "word_mask": np.ones((B, T), np.float32),
            "chars": rng.integers(1, C, (B, T, L)).astype(np.int32), "char_mask": np.ones((B, T, L), np.float32),
            "tags": rng.integers(0, K, (B, T)).astype(np.int32)}


TAGGER = {"V": 5000, "C": 60, "K": 17}


def jax_tagger(a):
    import jax
    import jax.numpy as jnp
    from jaxseq.models.pos_tagger import TaggerModelConfig, init, loss_fn
    from jaxseq.training import loop
    cfg = TaggerModelConfig(TAGGER["V"], TAGGER["C"], TAGGER["K"])
    opt = loop.make_optimizer(loop.TrainConfig(optimizer="sgd", lr=0.1, clip_norm=0.0))
    step = loop.make_train_step(loss_fn, opt)
    params = init(jax.random.PRNGKey(0), cfg)
    batch = {k: jnp.asarray(v) for k, v in tagger_batch(a, TAGGER["V"], TAGGER["C"], TAGGER["K"], a.tag_batch).items()}
    run, _ = train_steps(step, params, opt.init(params), [batch] * a.steps_per_rep)
    t = timeit(run, a.reps) / a.steps_per_rep
    return {"ms_per_step": 1e3 * t, "sentences_per_s": a.tag_batch / t, "batch": a.tag_batch}


# --------------------------------------------------------------------------------------- PyTorch
def torch_ngram(a, corp, xy, device, tutorial):
    torch, sync = torch_setup(device)
    import torch.nn.functional as F
    from torch import nn

    class NGramLanguageModeler(nn.Module):     # the tutorial's model
        def __init__(self, V, D, ctx):
            super().__init__()
            self.embeddings = nn.Embedding(V, D)
            self.linear1 = nn.Linear(ctx * D, 128)
            self.linear2 = nn.Linear(128, V)

        def forward(self, inputs):
            embeds = self.embeddings(inputs).view((inputs.shape[0], -1))
            return F.log_softmax(self.linear2(F.relu(self.linear1(embeds))), dim=1)

    model = NGramLanguageModeler(len(corp.vocab), a.dim, 2).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.001)
    loss_function = nn.NLLLoss()
    if tutorial:
        x, y = batch_of(xy, a.tutorial_examples)
        ctxs, tgts = x.tolist(), y.tolist()

        def run():
            for context, target in zip(ctxs, tgts):
                context_idxs = torch.tensor([context], dtype=torch.long, device=device)
                model.zero_grad()
                log_probs = model(context_idxs)
                loss = loss_function(log_probs, torch.tensor([target], dtype=torch.long, device=device))
                loss.backward()
                opt.step()
            sync()
        t = timeit(run, max(1, a.reps // 4), warmup=1)
        return {"examples_per_s": len(tgts) / t, "batch": 1, "ms_per_step": 1e3 * t / len(tgts)}
    x, y = batch_of(xy, a.batch)
    xb, yb = torch.tensor(x, dtype=torch.long, device=device), torch.tensor(y, dtype=torch.long, device=device)

    def run():
        for _ in range(a.steps_per_rep):
            opt.zero_grad()
            loss_function(model(xb), yb).backward()
            opt.step()
        sync()
    t = timeit(run, a.reps) / a.steps_per_rep
    return {"examples_per_s": a.batch / t, "batch": a.batch, "ms_per_step": 1e3 * t}


def torch_skipgram(a, corp, xy, device, loss):
    torch, sync = torch_setup(device)
    import torch.nn.functional as F
    from jaxseq.models.embeddings.losses import sampler_probs
    V, D, k = len(corp.vocab), a.dim, a.k
    emb_in = torch.nn.Parameter((torch.rand(V, D, device=device) - 0.5) / D)
    emb_out = torch.nn.Parameter(0.1 * torch.randn(V, D, device=device) / D ** 0.5)
    bias = torch.nn.Parameter(torch.zeros(V, device=device))
    opt = torch.optim.SGD([emb_in, emb_out, bias], lr=0.1, momentum=0.9)
    q = torch.tensor(sampler_probs(corp.counts, "unigram75" if loss == "neg" else "log_uniform"),
                     dtype=torch.float32, device=device)
    log_kq = torch.log(k * q.clamp_min(1e-30))
    x, y = batch_of(xy, a.batch)
    xb = torch.tensor(x[:, 0], dtype=torch.long, device=device)
    yb = torch.tensor(y, dtype=torch.long, device=device)
    special = torch.arange(V, device=device) < 4

    def loss_fn():
        h = emb_in[xb]
        if loss == "softmax":
            logits = (h @ emb_out.T + bias).masked_fill(special, float("-inf"))
            return F.cross_entropy(logits, yb)
        if loss == "neg":
            negs = torch.multinomial(q, a.batch * k, replacement=True).view(a.batch, k)
            pos = (h * emb_out[yb]).sum(-1)
            neg = torch.bmm(emb_out[negs], h[:, :, None])[..., 0]
            return (F.softplus(-pos) + F.softplus(neg).sum(-1)).mean()
        sampled = torch.multinomial(q, k, replacement=True)
        true_logit = (h * emb_out[yb]).sum(-1) + bias[yb] - log_kq[yb]
        noise_logit = h @ emb_out[sampled].T + bias[sampled] - log_kq[sampled]
        return (F.softplus(-true_logit) + F.softplus(noise_logit).sum(-1)).mean()

    def run():
        for _ in range(a.steps_per_rep):
            opt.zero_grad()
            loss_fn().backward()
            opt.step()
        sync()
    t = timeit(run, a.reps) / a.steps_per_rep
    return {"examples_per_s": a.batch / t, "batch": a.batch, "ms_per_step": 1e3 * t}


def torch_tagger(a, device, tutorial):
    torch, sync = torch_setup(device)
    from torch import nn
    V, C, K = TAGGER["V"], TAGGER["C"], TAGGER["K"]

    class LSTMTagger(nn.Module):                 # the tutorial's tagger + its char-level exercise
        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(V, 32)
            self.char_embeddings = nn.Embedding(C, 16)
            self.char_lstm = nn.LSTM(16, 32, batch_first=True)
            self.lstm = nn.LSTM(32 + 32, 64, batch_first=True)
            self.hidden2tag = nn.Linear(64, K)

        def forward_tutorial(self, words, chars):      # one sentence: words [T], chars: T tensors [L]
            reps = []
            for w in chars:                            # the char LSTM word by word
                _, (h, _) = self.char_lstm(self.char_embeddings(w)[None])
                reps.append(h[0, 0])
            x = torch.cat([self.word_embeddings(words), torch.stack(reps)], -1)
            out, _ = self.lstm(x[None])
            return torch.log_softmax(self.hidden2tag(out[0]), -1)

        def forward_batched(self, words, chars):       # words [B, T], chars [B, T, L] (all real)
            B, T, L = chars.shape
            _, (h, _) = self.char_lstm(self.char_embeddings(chars.view(B * T, L)))
            x = torch.cat([self.word_embeddings(words), h[0].view(B, T, -1)], -1)
            out, _ = self.lstm(x)
            return torch.log_softmax(self.hidden2tag(out), -1)

    model = LSTMTagger().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    nll = nn.NLLLoss()
    if tutorial:
        b = tagger_batch(a, V, C, K, a.tutorial_sentences)
        sents = [(b["words"][i].tolist(), b["chars"][i].tolist(), b["tags"][i].tolist())
                 for i in range(a.tutorial_sentences)]

        def run():
            for words, chars, tags in sents:
                model.zero_grad()
                w = torch.tensor(words, dtype=torch.long, device=device)
                cs = [torch.tensor(c, dtype=torch.long, device=device) for c in chars]
                loss = nll(model.forward_tutorial(w, cs), torch.tensor(tags, dtype=torch.long, device=device))
                loss.backward()
                opt.step()
            sync()
        t = timeit(run, max(1, a.reps // 4), warmup=1)
        return {"sentences_per_s": len(sents) / t, "batch": 1, "ms_per_step": 1e3 * t / len(sents)}
    b = {k: torch.tensor(v, device=device) for k, v in tagger_batch(a, V, C, K, a.tag_batch).items()}
    words, chars, tags = b["words"].long(), b["chars"].long(), b["tags"].long()

    def run():
        for _ in range(a.steps_per_rep):
            opt.zero_grad()
            nll(model.forward_batched(words, chars).reshape(-1, K), tags.reshape(-1)).backward()
            opt.step()
        sync()
    t = timeit(run, a.reps) / a.steps_per_rep
    return {"sentences_per_s": a.tag_batch / t, "batch": a.tag_batch, "ms_per_step": 1e3 * t}


# ------------------------------------------------------------------------------------------ main
def safe(rows, name, fn, *args):
    """One row; a failure is recorded, not fatal (one shot on a shared GPU)."""
    t0 = time.time()
    try:
        rows[name] = fn(*args)
    except Exception as e:  # noqa: BLE001 - report and go on
        rows[name] = {"error": f"{type(e).__name__}: {e}"}
    rows[name]["wall_s"] = round(time.time() - t0, 1)
    print(name, json.dumps(rows[name]), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="PyTorch device (JAX uses its default device)")
    p.add_argument("--data-dir", default=None, help="data root with tinyshakespeare/input.txt")
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--k", type=int, default=32, help="noise words (neg: per example; nce: per batch)")
    p.add_argument("--batch", type=int, default=512, help="examples per step (word models)")
    p.add_argument("--tag-batch", type=int, default=32)
    p.add_argument("--tag-len", type=int, default=25, help="words per sentence")
    p.add_argument("--word-len", type=int, default=10, help="letters per word")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--steps-per-rep", type=int, default=20)
    p.add_argument("--tutorial-examples", type=int, default=500)
    p.add_argument("--tutorial-sentences", type=int, default=20)
    p.add_argument("--draw-methods", default="scan,sort,compare_all",
                   help="also time the sampled losses with these jnp.searchsorted methods (the default row: "
                        "the library's choice per backend)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny repetitions (a smoke run)")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    if a.quick:
        a.reps, a.steps_per_rep, a.tutorial_examples, a.tutorial_sentences = 2, 2, 20, 2
    torch_ok = not a.no_torch
    if torch_ok:
        try:
            import torch   # each row sets it up (torch_setup)
        except ImportError:
            torch_ok = False
    import jax
    rows = {}
    corp, ex = corpus_examples(a)
    safe(rows, "ngram/jaxseq", jax_words, a, corp, ex["ngram"], "ngram", "softmax")
    if torch_ok:
        safe(rows, "ngram/torch_tutorial_batch1", torch_ngram, a, corp, ex["ngram"], a.device, True)
        safe(rows, "ngram/torch_batched", torch_ngram, a, corp, ex["ngram"], a.device, False)
    for loss in ("neg", "nce", "softmax"):
        safe(rows, f"skipgram_{loss}/jaxseq", jax_words, a, corp, ex["skipgram"], "skipgram", loss)
        for m in (a.draw_methods.split(",") if loss != "softmax" and a.draw_methods else []):
            safe(rows, f"skipgram_{loss}/jaxseq_draw_{m}", jax_words, a, corp, ex["skipgram"], "skipgram", loss, m)
        if torch_ok:
            safe(rows, f"skipgram_{loss}/torch_batched", torch_skipgram, a, corp, ex["skipgram"], a.device, loss)
    safe(rows, "tagger/jaxseq", jax_tagger, a)
    if torch_ok:
        safe(rows, "tagger/torch_tutorial_batch1", torch_tagger, a, a.device, True)
        safe(rows, "tagger/torch_batched", torch_tagger, a, a.device, False)
    info = {"jax": jax.__version__, "jax_device": str(jax.devices()[0]), "python": platform.python_version(),
            "vocab": len(corp.vocab), "args": vars(a)}
    if torch_ok:
        info.update(torch=torch.__version__, torch_device=a.device,
                    gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    res = {"info": info, "rows": rows}
    if a.out:
        write_json(a.out, res)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
