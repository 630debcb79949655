"""Word embeddings: the N-gram language model (context 2), CBOW (window 2) and skip-gram, each trained with
the full softmax, NCE (as tf.nn.nce_loss, log-Q corrected) or word2vec's negative sampling, on the words
of tiny Shakespeare or of the English side of eng-fra (or any text file, one sentence a line).

  python experiments/embeddings.py train --corpus shakespeare --model skipgram --loss neg --time-budget 3
  python experiments/embeddings.py neighbours king love              # the shipped tiny-Shakespeare vectors
  python experiments/embeddings.py neighbours --ckpt runs/embeddings/shakespeare_skipgram_neg/ckpt king
  python experiments/embeddings.py plot --out emb.png                 # PCA of the fixed word list
  python experiments/embeddings.py eval --ckpt runs/embeddings/shakespeare_skipgram_neg/ckpt   # held-out NLL
  python experiments/embeddings.py export --ckpt runs/embeddings/shakespeare_skipgram_softmax/ckpt \
      --out ckpt/embeddings/shakespeare --dtype float16                # params-only copy for shipping

train writes into --out (default runs/embeddings/<corpus>_<model>_<loss>): ckpt/ (resumes from it),
history.json, results.json (held-out full-softmax NLL, steps/s, the probe pairs) and neighbours.txt (the
fixed word list). From Python: `from jaxseq import embeddings; embeddings.load(DIR).neighbours(["king"])`.
"""
from __future__ import annotations

import argparse
import json
import sys

from _cli import (add_config_flags, add_export, add_time_budget, commands, config_from_args, fail, out_path,
                  run, time_budget_s)

from jaxseq.data.files import check_output_dir, write_atomic

# the fixed list reported for every run (words absent from a corpus are listed as such)
WORDS = ("king", "queen", "love", "death", "good", "night", "father", "mother", "man", "woman", "day",
         "house", "eat", "three", "happy", "red")
# a small hand-picked probe of related pairs: hits@10 = the share of pairs (both words known) whose second
# word is among the first's 10 nearest neighbours
PAIRS = (("king", "queen"), ("father", "mother"), ("man", "woman"), ("son", "daughter"),
         ("brother", "sister"), ("day", "night"), ("good", "bad"), ("love", "hate"), ("husband", "wife"),
         ("boy", "girl"), ("he", "she"), ("his", "her"), ("one", "two"), ("three", "four"),
         ("come", "go"), ("life", "death"), ("heaven", "hell"), ("eat", "drink"), ("big", "small"),
         ("red", "blue"), ("dog", "cat"), ("happy", "sad"), ("yes", "no"), ("this", "that"),
         ("him", "her"), ("my", "your"), ("lord", "sir"), ("hand", "eye"), ("sun", "moon"),
         ("summer", "winter"))

HELP = {"model": "ngram (the tutorial's N-gram LM), cbow or skipgram",
        "loss": "softmax (full), nce (tf.nn.nce_loss with the log-Q correction, noise shared per batch) "
                "or neg (word2vec negative sampling, noise per example)",
        "dim": "embedding size", "window": "ngram: previous words; cbow/skipgram: words either side",
        "hidden": "ngram's ReLU layer", "num_sampled": "noise words (nce: per batch; neg: per example)",
        "sampler": "noise distribution: auto (nce: log_uniform as tf's default; neg: unigram75 as "
                   "word2vec), log_uniform (Zipfian over frequency ranks) or unigram75 (count^0.75)",
        "min_count": "rarer training words become <unk>",
        "bias_init": "output biases at the start: zero (tf's NCE example) or unigram (log frequency)",
        "valid_fraction": "held-out sentences (seeded split)", "batch_size": "examples per step",
        "steps": "training steps", "optimizer": "sgd (momentum 0.9; Adam and RMSProp pulled every vector "
        "toward one common direction in our runs: cosines near 1 for unrelated words)",
        "lr": "learning rate (cosine-decayed to a tenth; the loss is a batch mean)",
        "eval_every": "held-out evaluation every N steps",
        "eval_examples": "held-out examples scored (a fixed subset)", "seed": "init, split and batches"}


def add_train(sub):
    from jaxseq.models.embeddings import CORPORA, EmbedConfig, LOSSES, MODELS, SAMPLERS
    from jaxseq.models.embeddings.training import OPTIMIZERS
    p = sub.add_parser("train", help="train one model on one corpus (resumable)")
    p.add_argument("--corpus", default="shakespeare", choices=list(CORPORA) + ["text"],
                   help="word source; text: --text FILE, one sentence a line")
    p.add_argument("--text", default=None, help="the text file of --corpus text (or an eng-fra txt/zip)")
    p.add_argument("--data-dir", default=None, help="data root (else $JAXSEQ_DATA, then the user cache)")
    p.add_argument("--data", default=None, help="tiny Shakespeare as a compact .npz "
                   "(experiments/scheduled_sampling.py --cache)")
    add_config_flags(p, EmbedConfig, help=HELP, choices={"model": MODELS, "loss": LOSSES,
                                                         "sampler": ("auto",) + SAMPLERS,
                                                         "optimizer": OPTIMIZERS,
                                                         "bias_init": ("zero", "unigram")})
    p.add_argument("--out", default=None, help="run folder (default runs/embeddings/<corpus>_<model>_<loss>)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="tqdm progress bar")
    add_time_budget(p)
    p.set_defaults(fn=cmd_train)


def probe(wv, words=WORDS, pairs=PAIRS, k=8):
    """Neighbours of the fixed words present, and hits@10 over the probe pairs."""
    known = [w for w in words if w in wv.vocab.stoi]
    nb = wv.neighbours(known, k) if known else {}
    usable = [(a, b) for a, b in pairs if a in wv.vocab.stoi and b in wv.vocab.stoi]
    hits = [b in {w for w, _ in wv.neighbours([a], 10)[a]} for a, b in usable]
    return nb, [w for w in words if w not in wv.vocab.stoi], {
        "pairs_known": len(usable), "hits_at_10": sum(hits),
        "hit_pairs": [f"{a}-{b}" for (a, b), h in zip(usable, hits) if h]}


def format_neighbours(nb, missing=()):
    lines = [f"{w:>8}: " + ", ".join(f"{n} ({c:.2f})" for n, c in r) for w, r in nb.items()]
    if missing:
        lines.append(f"(not in the vocabulary: {', '.join(missing)})")
    return "\n".join(lines) + "\n"


def cmd_train(a):
    from jaxseq.models.embeddings import EmbedConfig, WordVectors, build, read_sentences, train
    cfg = config_from_args(EmbedConfig, a)
    out = check_output_dir(a.out or f"runs/embeddings/{a.corpus}_{cfg.model}_{cfg.loss}")
    budget = time_budget_s(a)
    sents, source = read_sentences(a.corpus, a.data_dir, a.text, a.data)
    corp = build(sents, cfg.min_count, cfg.valid_fraction, cfg.seed, source)
    params, hist, summary = train(cfg, corp, out / "ckpt", corpus_name=a.corpus, time_budget_s=budget,
                                  progress=a.progress)
    wv = WordVectors(params["embed"], corp.vocab)
    nb, missing, pr = probe(wv)
    summary.update(probe=pr, command="python experiments/embeddings.py " + " ".join(sys.argv[1:]))
    write_atomic(out / "history.json", json.dumps(list(hist), indent=1))
    write_atomic(out / "results.json", json.dumps(summary, indent=1))
    text = format_neighbours(nb, missing)
    write_atomic(out / "neighbours.txt", text)
    print(json.dumps(summary, indent=1))
    print(text, end="")
    if hist.stopped == "time_budget":
        print("time budget reached; the same command resumes")


def add_neighbours(sub):
    p = sub.add_parser("neighbours", help="nearest neighbours by cosine of the given words")
    p.add_argument("--ckpt", default="shakespeare", help="a run's ckpt folder, or 'shakespeare' (shipped)")
    p.add_argument("words", nargs="+", help="query words (lower case, as the corpus was normalised)")
    p.add_argument("--k", type=int, default=8, help="neighbours per word")
    p.set_defaults(fn=cmd_neighbours)


def cmd_neighbours(a):
    from jaxseq.models.embeddings import load
    if a.k < 1:
        fail(f"--k {a.k}: give at least 1")
    wv = load(a.ckpt)
    wv.ids(a.words)                     # every unknown word is an error before any output
    print(format_neighbours(wv.neighbours(a.words, a.k)), end="")


def add_eval(sub):
    from jaxseq.models.embeddings import CORPORA
    p = sub.add_parser("eval", help="held-out full-softmax NLL of a checkpoint, on the held-out part of "
                       "its corpus (the training run's split), and the probe pairs")
    p.add_argument("--ckpt", default="shakespeare", help="a run's ckpt folder, or 'shakespeare' (shipped)")
    p.add_argument("--corpus", default=None, choices=list(CORPORA) + ["text"],
                   help="default: the checkpoint's own corpus")
    p.add_argument("--text", default=None, help="the text file of --corpus text")
    p.add_argument("--data-dir", default=None, help="data root (else $JAXSEQ_DATA, then the user cache)")
    p.add_argument("--data", default=None, help="tiny Shakespeare as a compact .npz")
    p.set_defaults(fn=cmd_eval)


def cmd_eval(a):
    from jaxseq.models.embeddings import load, read_sentences
    from jaxseq.models.embeddings.training import evaluate_run
    wv = load(a.ckpt)
    corpus = a.corpus or wv.meta.get("corpus") or "shakespeare"
    if corpus == "text" and a.text is None:
        fail("this checkpoint was trained on a text file: give --corpus text --text FILE")
    sents, source = read_sentences(corpus, a.data_dir, a.text, a.data)
    res = dict(evaluate_run(wv.params, wv.meta, sents), corpus=corpus, source=source)
    res["probe"] = probe(wv)[2]
    print(json.dumps(res, indent=1))


def add_plot(sub):
    p = sub.add_parser("plot", help="2-D PCA projection of word vectors, as a labelled scatter plot")
    p.add_argument("--ckpt", default="shakespeare", help="a run's ckpt folder, or 'shakespeare' (shipped)")
    p.add_argument("--words", nargs="*", default=None, help="words to plot (default: the fixed list and "
                   "the probe pairs, those known)")
    p.add_argument("--top", type=int, default=0, help="also plot the N most frequent words")
    p.add_argument("--out", default="runs/embeddings/pca.png", help="image file (.png or .svg)")
    p.set_defaults(fn=cmd_plot)


def cmd_plot(a):
    from jaxseq.models.embeddings import load
    from jaxseq.viz.embeddings import word_scatter
    dest = out_path(a.out)
    wv = load(a.ckpt)
    if a.words:
        words = list(dict.fromkeys(a.words))
        wv.ids(words)
    else:
        cand = list(WORDS) + [w for p in PAIRS for w in p]
        words = [w for w in dict.fromkeys(cand) if w in wv.vocab.stoi]
    words += [w for w in wv.vocab.itos[4:4 + max(a.top, 0)] if w not in words]
    if len(words) < 3:
        fail(f"only {len(words)} known words to plot; give at least 3 with --words")
    cfg = wv.meta.get("config", {})
    title = f"{wv.meta.get('corpus', '')} {cfg.get('model', '')} ({cfg.get('loss', '')}): PCA of {len(words)} words"
    word_scatter(dest, words, wv.project(words), title)
    print("wrote", dest)


def main(argv=None):
    return commands(__doc__, argv, add_train, add_neighbours, add_eval, add_plot, add_export)


if __name__ == "__main__":
    run(main)
