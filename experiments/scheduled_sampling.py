"""Scheduled sampling (Bengio et al. 2015) vs teacher forcing on a character LSTM over tiny Shakespeare.

Both runs use the same seed, data order, model and step count; they differ only in the loss: teacher
forcing (every input is the true previous character) or scheduled sampling (each input is the true
character with probability eps(step), else the model's own sample; eps decays by --schedule).

Every --eval-every steps it records
  * validation NLL under teacher forcing, in bits/char (what training optimises), and
  * free-running sample quality: the model continues --n-samples real validation prefixes for
    --sample-len characters at --temperature; the continuations are scored by an independent
    interpolated Witten-Bell character 5-gram model fit on the TRAINING text (bits/char), plus the
    fraction of generated words that occur in the training text, and the distinct-word ratio
    (types / tokens) as a guard against repetitive text, which an n-gram model scores well.
It writes ss_curves.png, results.json, and per run history_<mode>.json, results_<mode>.json,
samples_<mode>.txt and a checkpoint ckpt_<mode>/ into --out (the plot and results.json cover every run
found there). The same command again resumes, or only evaluates a finished run.

    python experiments/scheduled_sampling.py --steps 1500 --out runs/ss
    python experiments/scheduled_sampling.py --cache .devcarry/tinyshakespeare.npz   # compact data file
    python experiments/scheduled_sampling.py sample --ckpt runs/ss/ckpt_tf --prefix "ROMEO:"
"""
from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time

import numpy as np
from _cli import add_config_flags, add_time_budget, config_from_args, out_path, parser, run, time_budget_s

from jaxseq import char_lm
from jaxseq.data.files import check_output_dir, write_atomic
from jaxseq.data import shakespeare
from jaxseq.paths import as_path, is_remote
from jaxseq.training.loop import is_main_process
from jaxseq.training.schedules import SCHEDULES

log = logging.getLogger("scheduled_sampling")

HELP = {"steps": "training steps per run", "batch_size": "sequences per batch",
        "seq_len": "characters predicted per sequence", "embed": "character embedding size",
        "hidden": "LSTM size", "layers": "LSTM layers",
        "lr": "Adam learning rate (cosine-decayed to a tenth)",
        "schedule": "decay of eps, the probability of feeding the ground truth (Bengio et al. §2.4)",
        "eps_min": "floor of eps",
        "k": "schedule parameter (linear: slope, 0 lets eps reach --eps-min at 75%% of the steps; "
             "exponential: base; inverse_sigmoid: k; constant: eps)",
        "eval_every": "steps between evaluations", "n_samples": "free-running samples per evaluation",
        "sample_len": "characters per free-running sample", "temperature": "temperature of those samples",
        "seed": "seed for init, batches and sampling"}


def train_parser():
    p = parser(__doc__)
    p.add_argument("--data-dir", default=None, help="data root holding tinyshakespeare/input.txt "
                   "(None: $JAXSEQ_DATA, then ~/.cache/jaxseq)")
    p.add_argument("--data", default=None, help="a compact .npz written by --cache (used instead)")
    p.add_argument("--cache", default=None, help="only write the encoded text + characters to this .npz "
                   "and exit (to carry the data to another machine)")
    p.add_argument("--mode", choices=["both", *char_lm.MODES], default="both",
                   help="train teacher forcing, scheduled sampling, or both (same seed)")
    add_config_flags(p, char_lm.SSConfig, help=HELP, choices={"schedule": SCHEDULES})
    p.add_argument("--out", default="runs/ss", help="output folder")
    add_time_budget(p)
    return p


def sample_parser():
    d = char_lm.DEFAULTS
    p = parser("Continue prompts with a trained character LSTM (a ckpt_<mode> folder of a run).",
               prog="scheduled_sampling.py sample")
    p.add_argument("--ckpt", required=True, help="checkpoint folder, e.g. runs/ss/ckpt_tf")
    p.add_argument("--prefix", action="append", help="prompt (repeat for several; default: a newline)")
    p.add_argument("--length", type=int, default=d.sample_len, help="characters to generate")
    p.add_argument("--temperature", type=float, default=d.temperature, help="sampling temperature")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--out", default=None, help="also write the samples to this text file")
    return p


def cmd_sample(a):
    prefixes = a.prefix or ["\n"]
    char_lm.check_sample_args(prefixes, a.length, a.temperature)   # before the model is loaded
    dest = out_path(a.out) if a.out else None
    lm = char_lm.load(a.ckpt)
    texts = lm.sample(prefixes, a.length, a.temperature, a.seed)
    body = "".join(f"{p}|{t}\n-----\n" for p, t in zip(prefixes, texts))
    print(body, end="")
    if dest:
        write_atomic(dest, body)
        print("wrote", dest)


def write_run(out, mode, hist, samples, secs):
    final = {k: v for k, v in hist[-1].items() if k.startswith("val_")} if hist else {}
    write_atomic(out / f"history_{mode}.json", json.dumps(hist, indent=1))
    write_atomic(out / f"results_{mode}.json", json.dumps(dict(final, train_s=round(secs, 1)), indent=1))
    write_atomic(out / f"samples_{mode}.txt", f"===== {mode}: prefix|continuation =====\n" +
                 "".join(s + "\n-----\n" for s in samples[:4]))
    print(f"{mode}: {json.dumps(final)}\n--- sample ---\n{samples[0] if samples else ''}\n")


def summarise(out, cfg, ref):
    from jaxseq.viz.char_lm import ss_curves
    hists = {m: json.loads((out / f"history_{m}.json").read_text())
             for m in char_lm.MODES if (out / f"history_{m}.json").exists()}
    summary = {"ngram_bpc_of_real_val_text": ref, "config": dataclasses.asdict(cfg),
               **{m: json.loads((out / f"results_{m}.json").read_text()) for m in hists}}
    write_atomic(out / "results.json", json.dumps(summary, indent=1))
    ss_curves(hists, out / "ss_curves.png", ref)
    print(json.dumps(summary, indent=1))
    print("wrote", out / "ss_curves.png", ", ".join(f"samples_{m}.txt" for m in hists))


def process0_value(x):
    """Process 0's number on every process of a multi-host job (so all skip a run or none does)."""
    import jax
    if jax.process_count() == 1:
        return x
    from jax.experimental import multihost_utils
    return float(multihost_utils.broadcast_one_to_all(np.float32(x)))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sample"]:
        return cmd_sample(sample_parser().parse_args(argv[1:]))
    a = train_parser().parse_args(argv)
    cfg = config_from_args(char_lm.SSConfig, a)
    budget = time_budget_s(a)
    out = as_path(a.out)   # gs://bucket/run stays a URI (an error now if gcsfs is missing)
    if a.cache or not is_remote(out):   # before any work
        dest = out_path(a.cache, "--cache") if a.cache else check_output_dir(out)
    ids, charset = shakespeare.load(a.data_dir, cache=a.data)
    if a.cache:
        path = shakespeare.write_cache(dest, ids, charset)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
        return
    train_ids, val_ids = shakespeare.split(ids)
    char_lm.check_corpus(cfg, train_ids, val_ids, a.data or shakespeare.text_path(a.data_dir))
    t0 = time.time()
    yardstick = char_lm.Yardstick(charset.decode(train_ids), charset.chars[1:])
    ref = yardstick.bits_per_char(charset.decode(val_ids[:20000]))
    log.info(f"5-gram reference model built in {time.time() - t0:.0f}s; real validation text: {ref:.3f} "
             f"bits/char")
    deadline = None if budget is None else time.time() + budget
    for mode in (char_lm.MODES if a.mode == "both" else [a.mode]):  # per-mode files: separate jobs work
        left = None if deadline is None else process0_value(deadline - time.time())
        if left is not None and left <= 0:   # every process skips the run together
            log.info(f"time budget used up before the {mode} run; run the same command again")
            continue
        _, hist, samples, secs = char_lm.train(cfg, mode, train_ids, val_ids, charset, yardstick,
                                               out / f"ckpt_{mode}", time_budget_s=left)
        if is_main_process():   # every process trained and saved; process 0 alone writes files
            write_run(out, mode, hist, samples, secs)
        if hist.stopped == "preempted":   # the checkpoint is saved; the VM is going away
            return
    if is_main_process():
        summarise(out, cfg, ref)


if __name__ == "__main__":
    run(main)
