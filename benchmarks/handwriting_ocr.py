"""Legibility of handwriting synthesis, measured by OCR, plus the stray-tail rate and per-character NLL.

    python benchmarks/handwriting_ocr.py ocr --out runs/bench/hw_ocr.json            # CER per bias
    python benchmarks/handwriting_ocr.py ocr --ckpt runs/hw_ft/export --out ...      # another checkpoint
    python benchmarks/handwriting_ocr.py tails --out runs/bench/hw_tails.json        # stray tails
    python benchmarks/handwriting_ocr.py tails --old-stop --out ...                  # the rule before
    python benchmarks/handwriting_ocr.py char-nll --cache .cache/iam/iam_lines.npz --out ...

``ocr``: every text of the fixed :data:`PANEL` (32 texts, with digits, capitals and punctuation) is
written once per bias and seed, rendered as a PNG exactly as ``generate`` writes it (40 px x-height,
2 px pen), and read by Tesseract (``apt-get install tesseract-ocr``; one ``tesseract`` call reads a list
of images, ``--psm 7``: one text line). The score is the character error rate: edit distance over
reference length, summed over the panel. The control is :data:`N_REAL` real IAM-OnDB validation lines
(the first whose text is 10-50 characters long, needs ``--cache``), rendered the same way: it says what
CER a human hand gets from this OCR. ``tails``: the fraction of lines with a stray tail
(:func:`jaxseq.models.handwriting.sample.stray_reason`) over the panel x biases x seeds, by reason; ``--old-stop``
samples with the rule before issue 11 (no linger limit, no trimming, no redraws). ``char-nll``: the net's mean NLL
per point of the points where the window is on each character (teacher-forced; validation lines, or
``--split train``, optionally only lines holding a digit), and how many training characters each
character has (``val_*`` keys hold the chosen split).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PANEL = [
    "hello world", "a quick brown fox", "jumps over the lazy dog", "handwriting in jax", "the end of the line",
    "Bring me the map", "New York City", "Monday morning", "Dear Sir", "Good evening",
    "Paris and London", "The Times", "Mr Brown said no", "King George", "United Nations",
    "Labour and Tory", "seven pounds of tea", "over the hills", "just one more", "a small boat",
    "1984 was a year", "in the year 2001", "call me at 555 0199", "we met at 10", "page 36 of 48",
    "from 1960 to 1975", "room 27, floor 3", "It costs 12 pounds.", "What is it?", "Yes, he said.",
    "Come here now!", "first, second, third",
]
BIASES = (0.0, 0.5, 1.0, 2.0)
N_REAL = 32


def norm(text: str) -> str:
    """Whitespace collapsed, no space before , . ; : ? ! or around an apostrophe (IAM-OnDB transcripts
    are partly tokenised: "Foot ' s line ." is "Foot's line."); applied to references and OCR alike."""
    text = re.sub(r" (?=[,.;:?!])", "", " ".join(text.split()))
    return re.sub(r" ?' ?", "'", text)


def cer(hyps, refs, fold_case=False):
    """Corpus character error rate (:func:`jaxseq.metrics.char_error_rate`) after :func:`norm`."""
    from jaxseq.metrics import char_error_rate
    f = (lambda t: norm(t).lower()) if fold_case else norm
    return char_error_rate([f(h) for h in hyps], [f(r) for r in refs])


def tesseract(pngs, psm=7):
    """OCR text of each PNG, in order (one tesseract process over a list file)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(str(p) for p in pngs) + "\n")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        r = subprocess.run(["tesseract", f.name, "stdout", "--psm", str(psm)], capture_output=True,
                           text=True, env=env, check=True)
    except FileNotFoundError:
        sys.exit("error: tesseract not found: apt-get install tesseract-ocr")
    finally:
        os.unlink(f.name)
    out = r.stdout.split("\f")
    return [norm(t) for t in out[:len(pngs)]] + [""] * max(0, len(pngs) - len(out))


def render(hand, lines, folder, tag):
    paths = []
    for i, line in enumerate(lines):
        paths.append(hand.save_png([line], Path(folder) / f"{tag}_{i:03d}.png"))
    return paths


def real_lines(cache, n=N_REAL):
    from jaxseq.data import iam
    lines = iam.load(cache_path=cache, progress=False)
    pick = [i for i in np.nonzero(lines.is_valid)[0] if 10 <= len(lines.texts[i]) <= 50][:n]
    return [np.asarray(lines.strokes[i], np.float32) for i in pick], [lines.texts[i] for i in pick]


def sample_panel(a, hand, bias, seed):
    """``(lines, phis)`` of the panel; ``--old-stop``: the stopping rule before issue 11 (no linger
    limit, no trimming, no redraw of stalled lines, a stop tail of 1.5 characters' worth; the panel
    needs no character substitution)."""
    if a.old_stop:
        from jaxseq.models.handwriting import sample as S
        return S.generate(hand.params, hand.config, hand.charset, PANEL, seed=seed, bias=bias, trim=False,
                          linger=10 ** 6, retries=0, stop_tail=round(1.5 / hand.config.kappa_scale))
    return hand.write(PANEL, bias=bias, seed=seed, return_phi=True, style=a.style)


def cmd_ocr(a, hand):
    rows, examples = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        if a.cache:
            strokes, texts = real_lines(a.cache)
            hyps = tesseract(render(hand, strokes, tmp, "real"))
            rows.append({"source": "IAM validation lines (control)", "bias": None, "lines": len(texts),
                         "cer": cer(hyps, texts), "cer_nocase": cer(hyps, texts, True)})
            examples["real"] = list(zip(texts[:8], hyps[:8]))
            print(rows[-1], flush=True)
        digits = [i for i, t in enumerate(PANEL) if any(c.isdigit() for c in t)]
        for bias in a.bias:
            texts = PANEL * a.seeds
            t0 = time.perf_counter()
            lines = []
            for seed in range(a.seeds):
                lines += sample_panel(a, hand, bias, seed)[0]
            sample_s = time.perf_counter() - t0
            hyps = tesseract(render(hand, lines, tmp, f"b{bias}"))
            dig = [k for k in range(len(texts)) if k % len(PANEL) in digits]
            rows.append({"source": str(a.ckpt or "shipped"), "old_stop": a.old_stop, "style": a.style,
                         "bias": bias, "lines": len(texts),
                         "cer": cer(hyps, texts), "cer_nocase": cer(hyps, texts, True),
                         "cer_digit_texts": cer([hyps[k] for k in dig], [texts[k] for k in dig]),
                         "cer_other_texts": cer([hyps[k] for k in range(len(texts)) if k not in dig],
                                                [texts[k] for k in range(len(texts)) if k not in dig]),
                         "sample_s": round(sample_s, 1)})
            examples[f"bias {bias}"] = list(zip(texts[:len(PANEL)], hyps[:len(PANEL)]))
            print(rows[-1], flush=True)
            if a.keep_images:
                from jaxseq.viz.strokes import handwriting_layout, save_lines_png
                save_lines_png(Path(a.keep_images) / f"ocr_panel_bias{bias}.png", lines[:len(PANEL)],
                               **handwriting_layout(x_height=20))
    return {"rows": rows, "examples": examples}


def cmd_tails(a, hand):
    from jaxseq.models.handwriting import sample as S
    per_bias, reasons, flagged = {}, collections.Counter(), []
    for bias in a.bias:
        k = 0
        for seed in range(a.seeds):
            lines, phis = sample_panel(a, hand, bias, seed)
            for text, line, phi in zip(PANEL, lines, phis):
                why = S.stray_reason(line, phi, hand.config.kappa_scale)
                if why:
                    k += 1
                    reasons[why] += 1
                    flagged.append({"bias": bias, "seed": seed, "text": text, "reason": why, "points": len(line)})
        per_bias[str(bias)] = k / (a.seeds * len(PANEL))
        print(bias, per_bias[str(bias)], flush=True)
    n = len(a.bias) * a.seeds * len(PANEL)
    print(dict(reasons), flush=True)
    return {"rule": "before (no linger limit, no trim, no redraws)" if a.old_stop else "after", "lines": n,
            "stray": sum(reasons.values()), "fraction": sum(reasons.values()) / n, "reasons": dict(reasons),
            "per_bias": per_bias, "flagged": flagged}


def cmd_char_nll(a, hand):
    import jax
    import jax.numpy as jnp
    from jaxseq.data import iam
    from jaxseq.models.handwriting import model as hw
    from jaxseq.models.handwriting import training
    from jaxseq.nn import mixtures as mdn
    lines = iam.load(cache_path=a.cache, progress=False)
    cfg, cs = hand.config, hand.charset
    pool, max_len, text_len = training.validation_setup(cfg, hand.meta, lines)
    if a.split == "train":
        pool = training.pools(lines, max_len, True)[0]
    if a.with_digits:
        pool = np.asarray([i for i in pool if any(c.isdigit() for c in lines.texts[i])], pool.dtype)
    if a.max_lines:
        pool = pool[:a.max_lines]

    @jax.jit
    def per_point(params, batch):
        raw, aux, _ = hw.forward(params, cfg, hw.shift_inputs(batch["strokes"]), batch["mask"],
                                 batch["text"], batch["text_mask"])
        p = mdn.split_bivariate(raw, cfg.n_mix)
        s = batch["strokes"]
        lp = mdn.bivariate_log_prob(p, s[..., 0], s[..., 1]) + mdn.eos_log_prob(p, s[..., 2])
        return -lp, jnp.argmax(aux["phi"], -1)

    tot, cnt = collections.defaultdict(float), collections.defaultdict(int)
    for k in range(0, len(pool), 64):
        idx = pool[k:k + 64]
        b = training.make_batch(lines.strokes, lines.texts, idx, max_len, cs, text_len)
        nll, at = jax.device_get(per_point(hand.params, {kk: jnp.asarray(v) for kk, v in b.items()}))
        for j, i in enumerate(idx):
            t = lines.texts[i]
            for s in range(int(b["mask"][j].sum())):
                c = t[at[j, s]] if at[j, s] < len(t) else "<end>"
                tot[c] += float(nll[j, s])
                cnt[c] += 1
    train = [lines.texts[i] for i in np.nonzero(~np.asarray(lines.is_valid, bool))[0]]
    chars = collections.Counter(c for t in train for c in t)
    pts_per_char = 1.0 / cfg.kappa_scale
    rows = {c: {"val_points": cnt[c], "val_nll_point": tot[c] / cnt[c], "train_chars": chars.get(c, 0),
                "train_points_est": round(chars.get(c, 0) * pts_per_char)} for c in sorted(cnt)}
    groups = {"digits": "0123456789", "capitals": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
              "lowercase": "abcdefghijklmnopqrstuvwxyz", "space": " "}
    summary = {}
    for g, members in groups.items():
        n = sum(cnt[c] for c in members)
        summary[g] = {"val_points": n, "val_nll_point": sum(tot[c] for c in members) / max(n, 1),
                      "train_chars": sum(chars.get(c, 0) for c in members)}
    total_chars = sum(chars.values())
    summary["train_total_chars"] = total_chars
    summary["train_total_points"] = int(sum(len(lines.strokes[i]) for i in
                                            np.nonzero(~np.asarray(lines.is_valid, bool))[0]))
    summary["digit_share_of_train_chars"] = summary["digits"]["train_chars"] / total_chars
    for g, v in summary.items():
        print(g, v, flush=True)
    return {"split": a.split, "with_digits": a.with_digits, "lines": int(len(pool)), "groups": summary,
            "chars": rows}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["ocr", "tails", "char-nll"])
    ap.add_argument("--ckpt", default="", help="checkpoint (default: the shipped synthesis net)")
    ap.add_argument("--cache", default="", help="IAM cache (ocr: the real-line control; char-nll: needed)")
    ap.add_argument("--bias", type=float, action="append", help=f"biases (repeat; default {BIASES})")
    ap.add_argument("--seeds", type=int, default=1, help="samples of each panel text per bias")
    ap.add_argument("--style", type=int, default=None, help="prime every line with this shipped style")
    ap.add_argument("--old-stop", action="store_true", help="sample with the stopping rule before issue 11")
    ap.add_argument("--max-lines", type=int, default=0, help="char-nll: lines (0: all)")
    ap.add_argument("--split", choices=["valid", "train"], default="valid", help="char-nll: which lines")
    ap.add_argument("--with-digits", action="store_true", help="char-nll: only lines holding a digit")
    ap.add_argument("--keep-images", default="", help="ocr: write one panel PNG per bias into this folder")
    ap.add_argument("--out", default="", help="JSON results")
    a = ap.parse_args(argv)
    a.bias = a.bias or list(BIASES)
    os.environ.setdefault("MPLBACKEND", "Agg")
    warnings.simplefilter("ignore")     # unknown-character notes are not results
    from jaxseq import handwriting
    hand = handwriting.load(a.ckpt or None)
    t0 = time.perf_counter()
    res = {"ocr": cmd_ocr, "tails": cmd_tails, "char-nll": cmd_char_nll}[a.cmd](a, hand)
    res.update(cmd=" ".join(sys.argv), seconds=round(time.perf_counter() - t0, 1))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1, ensure_ascii=False))
        print("wrote", a.out)


if __name__ == "__main__":
    main()
