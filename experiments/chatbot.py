"""The PyTorch chatbot tutorial's model (bidirectional GRU encoder, Luong-attention GRU decoder) on dialogue.

  python experiments/chatbot.py chat --say "how now my lord ?"      # one reply from the shipped checkpoint
  python experiments/chatbot.py chat                                # a prompt: one line in, one reply out
  python experiments/chatbot.py train --time-budget 10              # tiny-Shakespeare turns; resumable
  python experiments/chatbot.py train --corpus cornell --data-dir D   # D/cornell/<the official zip>
  python experiments/chatbot.py eval --ckpt runs/chatbot/shakespeare   # test NLL, perplexity, reply BLEU

The tutorial trains on the Cornell Movie-Dialogs corpus; ``--corpus shakespeare`` (the default, and the
shipped checkpoint) uses line -> reply pairs of consecutive speeches of tiny Shakespeare instead, so the
bot answers in a pseudo-Elizabethan register with a vocabulary of ~1,400 words. Training writes to
runs/chatbot/<corpus> (resumes from it); ``--export DIR`` saves the params-only best step.
From Python: ``from jaxseq.models.seq2seq import chatbot_train; chatbot_train.load().reply(["hello"])``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from _cli import (add_config_flags, add_export_flags, add_time_budget, check_outputs, config_from_args,
                  each_output, export_run, fail, parser, plain_warnings, print_params, run, subparsers,
                  time_budget_s)

ROOT = Path(__file__).resolve().parents[1]
HELP = {"corpus": "shakespeare (tiny-Shakespeare turns) or cornell (needs the Cornell zip)",
        "max_words": "keep pairs with fewer tokens than this on both sides (the tutorial's MAX_LENGTH)",
        "min_count": "trim words seen fewer times, and the pairs holding them (the tutorial's MIN_COUNT)",
        "split_seed": "seed of the fixed 90/5/5 split", "hidden": "GRU and embedding size",
        "layers": "encoder and decoder GRU layers", "score": "Luong attention score",
        "dropout": "embedding and inter-layer dropout",
        "tf_ratio": "teacher-forcing ratio: the chance a reply is fed the ground truth, else its own words",
        "steps": "training steps", "batch_size": "pairs per step", "lr": "Adam learning rate",
        "clip_norm": "global gradient-norm clip", "seed": "seed of initialisation, batches and dropout",
        "eval_every": "validation NLL / distinct replies every N steps", "ckpt_every": "checkpoint every N"}


def parse_args(argv=None):
    from jaxseq.models.seq2seq.chatbot_train import CORPORA, Config
    from jaxseq.nn.attention import SCORES
    p = parser(__doc__)
    sub = subparsers(p)
    t = sub.add_parser("train", help="train (resumes from --out), then the test report")
    add_config_flags(t, Config, help=HELP, choices={"corpus": list(CORPORA), "score": list(SCORES)})
    t.add_argument("--data-dir", help="data root (tinyshakespeare/input.txt or cornell/...; else "
                   "$JAXSEQ_DATA or the cache)")
    t.add_argument("--out", help="run directory (default runs/chatbot/<corpus>)")
    t.add_argument("--pick", default="best", choices=["best", "latest"],
                   help="the step the test report and the export use: best (lowest validation NLL) or "
                        "latest (the tutorial keeps the model after its 4,000 iterations)")
    add_export_flags(t, "the --pick step")
    add_time_budget(t)
    e = sub.add_parser("eval", help="test NLL, perplexity and reply BLEU of a checkpoint (needs the data)")
    e.add_argument("--ckpt", default="shakespeare", help="checkpoint directory or shipped name")
    e.add_argument("--data-dir", help="data root of the checkpoint's corpus")
    e.add_argument("--out", help="also write test_results.json here")
    c = sub.add_parser("chat", help="reply to --say, else to each line typed (stdin)")
    c.add_argument("--ckpt", default="shakespeare", help="checkpoint directory or shipped name")
    c.add_argument("--say", action="append", metavar="TEXT", help="a line to answer (repeatable)")
    c.add_argument("--beam", type=int, default=1, help="beam size (1: greedy, the tutorial's decoder)")
    c.add_argument("--attention-dir", metavar="DIR", help="also save an attention heatmap per reply as "
                   "DIR/chat_<i>.png")
    args = p.parse_args(argv)
    cfg = config_from_args(Config, args) if args.cmd == "train" else None
    if args.cmd == "chat" and args.beam < 1:
        fail(f"--beam {args.beam}: give an integer of at least 1")
    return args, cfg


def report(res, out_dir=None):
    from jaxseq.data.files import write_atomic
    print(f"test ({res['test_pairs']} held-out pairs): NLL {res['test_nll']:.3f}, perplexity "
          f"{res['test_ppl']:.1f}, greedy-reply BLEU {res['bleu_greedy']:.2f}, distinct replies "
          f"{res['distinct_replies']:.0%}")
    for ex in res["examples"]:
        print(f"  > {ex['line']}\n    bot: {ex['bot']}\n    (real reply: {ex['reply']})")
    if out_dir is not None:
        write_atomic(Path(out_dir) / "test_results.json", json.dumps(res, indent=1))


def train(args, cfg):
    import jax
    from jaxseq.models.seq2seq import chatbot as model, chatbot_train as ct
    out_dir = Path(args.out) if args.out else ROOT / "runs" / "chatbot" / cfg.corpus
    check_outputs(out_dir, args.export)
    data = ct.prepare(cfg, args.data_dir)
    print(data.summary())
    mcfg = ct.model_config(cfg, len(data.vocab))
    params = model.init(jax.random.PRNGKey(cfg.seed), mcfg)
    print_params(params, mcfg)
    params, hist, done = ct.fit_run(out_dir, model.make_loss(mcfg, cfg.tf_ratio), params,
                                    ct.batch_fn(data, cfg), ct.train_config(cfg),
                                    eval_fn=ct.make_eval_fn(mcfg, data), meta=ct.make_meta(cfg, mcfg, data),
                                    best_metric="val_nll", time_budget_s=time_budget_s(args))
    if done < cfg.steps:
        print(f"stopped at step {done} ({hist.stopped or 'time budget'}); the same command resumes")
    if args.pick == "best":
        params, _, _ = ct.restore(out_dir)     # the lowest validation NLL
    res = dict(ct.test_report(params, mcfg, data), steps=done, pick=args.pick)
    report(res, out_dir)
    if args.export:
        export_run(out_dir, args, args.pick)


def evaluate(args):
    from jaxseq.models.seq2seq import chatbot_train as ct
    params, mcfg, meta = ct.restore(ct.resolve(args.ckpt))
    cfg = ct.Config.from_meta(meta["config"])
    data = ct.prepare(cfg, args.data_dir)
    if data.vocab.to_json() != meta["vocab"]:
        fail(f"the data in {args.data_dir or '$JAXSEQ_DATA'} gives another vocabulary than checkpoint "
             f"{args.ckpt} was trained with; evaluate on the same corpus")
    report(ct.test_report(params, mcfg, data), args.out)


def chat(args):
    from jaxseq.models.seq2seq import chatbot_train as ct
    if args.say and not all(t.strip() for t in args.say):
        fail("--say got an empty line; give something to answer")
    check_outputs(args.attention_dir)
    bot = ct.load(args.ckpt)
    interactive = not args.say
    if interactive and sys.stdin.isatty():
        print("say something (one line; Ctrl-D or 'q' to end)", file=sys.stderr)

    def lines():
        if args.say:
            yield from args.say
            return
        while True:
            if sys.stdin.isatty():
                print("> ", end="", file=sys.stderr, flush=True)
            line = sys.stdin.readline()
            if not line or line.strip() in ("q", "quit"):
                return
            yield line.strip()

    def reply(text):
        ((src, out, attn),) = bot.reply([text], beam=args.beam, return_attention=True)
        return src, out, attn

    def skipped(e):
        print(f"bot: (skipped: {e})", flush=True)

    for i, _, (src, out, attn) in each_output(lines(), reply, interactive, skipped):
        print(f"bot: {' '.join(out) or '(an empty reply)'}", flush=True)
        if args.attention_dir:
            from jaxseq.viz.nmt import plot_attention
            path = plot_attention(Path(args.attention_dir) / f"chat_{i}.png", attn, src, out,
                                  title=f"chatbot ({bot.cfg.score} attention)")
            print(f"  attention: {path}", file=sys.stderr)


def main(argv=None):
    plain_warnings()
    args, cfg = parse_args(argv)
    if args.cmd == "train":
        return train(args, cfg)
    if args.cmd == "eval":
        return evaluate(args)
    return chat(args)


if __name__ == "__main__":
    run(main)
