"""Does priming with one line of a writer make the synthesis net write like that writer? (issue 14)

IAM-OnDB validation writers (held out from the shipped checkpoint's training: writer-disjoint split of
jaxseq.data.iam). A writer here is one form (a page such as a01-000u, all written by one person; the
archives carry no writer ids, and a validation session holds several writers). For each writer: prime with one of their lines (A) and write the text of another of their
lines (B); compare with unprimed writing of the same text. Style distance: Euclidean distance between
per-line style features, each in units of its standard deviation over the training lines:

* slant: median angle from vertical (degrees) of near-vertical pen-down moves;
* width per character: ink width / characters of the text;
* height: 5-95 percentile ink height;
* step: mean pen-down move length (writing speed at the sensor's rate);
* pen-ups per character: strokes / characters;
* turning: mean absolute turning angle between consecutive pen-down moves (roundness).

All in normalised units, no pen pressure. A line's distance to its writer is the mean over that writer's
other real lines (A excluded). Three ways of writing B's text are scored: unprimed, primed with A from the
cache (the training pipeline), and primed with A read the way a user's file is (A's strokes in made-up
pixel units with a fixed-rate device's time stamps, through jaxseq.data.ink: rescaled by width per
character, resampled in time to the training lines' mean step).
Reference points: a real line of the writer vs their other lines (floor) and a real line of another
validation writer from another recording session (ceiling).

    python benchmarks/handwriting_style.py --cache .cache/iam/iam_lines.npz --writers 15 --seeds 2 \
        --out runs/hw_style.json --figure docs/img/demo_priming_side_by_side.png
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from jaxseq import handwriting
from jaxseq.data import iam, ink
from jaxseq.data.strokes import split_strokes, to_absolute
from jaxseq.models.handwriting import sample

FEATURES = ("slant_deg", "width_per_char", "height", "step", "penups_per_char", "turning_deg")


def features(s3, text) -> np.ndarray:
    """The style features of one line (stroke-3, normalised units) with its text."""
    s3 = np.asarray(s3, np.float64)
    n = max(len(text), 1)
    up = np.concatenate([[True], s3[:-1, 2] > 0.5])
    d = s3[~up, :2]
    d = d[np.hypot(d[:, 0], d[:, 1]) > 1e-6]
    vertical = d[np.abs(d[:, 1]) > 2 * np.abs(d[:, 0])]
    sgn = np.sign(vertical[:, 1:2])                        # orient every move downwards
    v = vertical * np.where(sgn == 0, 1, sgn)
    slant = np.degrees(np.median(np.arctan2(v[:, 0], v[:, 1]))) if len(v) else 0.0
    p = to_absolute(s3)
    ang = np.arctan2(d[:, 1], d[:, 0])
    turn = np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi)
    return np.array([slant, np.ptp(p[:, 0]) / n, np.percentile(p[:, 1], 95) - np.percentile(p[:, 1], 5),
                     np.hypot(d[:, 0], d[:, 1]).mean() if len(d) else 0.0,
                     len(split_strokes(s3)) / n, np.degrees(turn.mean()) if len(turn) else 0.0])


def as_pixels(s3, text, scale=23.0):
    """A cache line as a user's file would hold it: absolute points in made-up pixel units with time stamps
    in ms of a fixed-rate device, one list per stroke, read back through jaxseq.data.ink (the
    unknown-units path)."""
    polys = split_strokes(np.asarray(s3, np.float64))
    t0 = np.cumsum([0] + [len(q) + 20 for q in polys])          # a device at 100 points/s, pen-ups 0.2 s
    pts = [np.concatenate([q * scale + 100.0, (t + np.arange(len(q)))[:, None] * 10.0], 1).tolist()
           for q, t in zip(polys, t0)]
    return handwriting.Style.from_points(pts, text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=str(iam.DEFAULT_CACHE), help="IAM-OnDB cache (experiments/handwriting.py prep)")
    ap.add_argument("--data-dir", default="", help="builds the cache from here when it is missing")
    ap.add_argument("--ckpt", default="", help="synthesis checkpoint (default: the shipped one)")
    ap.add_argument("--writers", type=int, default=15, help="validation writers (with >= 3 lines of 15-45 chars)")
    ap.add_argument("--seeds", type=int, default=2, help="samples per writer and condition")
    ap.add_argument("--bias", type=float, default=1.0, help="sampling bias")
    ap.add_argument("--seed", type=int, default=0, help="picks writers and lines")
    ap.add_argument("--out", default="", help="JSON with every number")
    ap.add_argument("--figure", default="", help="PNG: prime, real target, primed, unprimed for 4 writers")
    a = ap.parse_args(argv)

    lines = iam.load(a.data_dir or None, a.cache)
    hand = handwriting.load(a.ckpt or None)
    if abs(lines.scale - hand.meta["scale"]) > 1e-3 * lines.scale:
        raise SystemExit(f"error: the cache's scale {lines.scale} is not the checkpoint's {hand.meta['scale']}")
    train_f = np.array([features(lines.strokes[i], lines.texts[i]) for i in lines.train_idx[::5]])
    sd = train_f.std(0)
    rng = np.random.default_rng(a.seed)

    def usable(i):
        t = lines.texts[i]
        return 15 <= len(t) <= 45 and all(c in hand.charset.index for c in t) and len(lines.strokes[i]) <= 600
    by_writer = {}      # one form (e.g. a01-000u) is one writer's page; validation forms are held out
    for i in lines.valid_idx:
        if usable(i):
            by_writer.setdefault(lines.ids[i].rsplit("-", 1)[0], []).append(int(i))
    writers = sorted(w for w, ix in by_writer.items() if len(ix) >= 3)
    writers = [writers[k] for k in rng.permutation(len(writers))[:a.writers]]
    print(f"{len(writers)} validation writers/forms (of {len(by_writer)} with usable lines), "
          f"{sum(len(by_writer[w]) for w in writers)} lines; feature sd {dict(zip(FEATURES, sd.round(3)))}")

    jobs = []       # (writer, condition, prime or None, text of B)
    picks = {}
    for w in writers:
        ix = list(rng.permutation(by_writer[w]))
        A, B = ix[0], ix[1]
        picks[w] = (A, B, ix[1:])
        primes = {"unprimed": None, "primed": (lines.strokes[A], lines.texts[A]),
                  "primed_via_ink": None}
        st = as_pixels(lines.strokes[A], lines.texts[A]).check(hand.charset, hand.max_chars)
        primes["primed_via_ink"] = (st.strokes, st.text)
        for cond, pr in primes.items():
            for s in range(a.seeds):
                jobs.append((w, cond, s, pr, lines.texts[B]))
    t0 = time.perf_counter()
    out, _ = sample.generate(hand.params, hand.config, hand.charset, [j[4] for j in jobs], seed=a.seed,
                             bias=a.bias, primes=[j[3] for j in jobs], progress=True)
    gen_s = time.perf_counter() - t0

    def dist(f, w, exclude):
        real = [features(lines.strokes[i], lines.texts[i]) for i in by_writer[w] if i not in exclude]
        return float(np.mean([np.linalg.norm((f - r) / sd) for r in real]))

    per = {c: [] for c in ("unprimed", "primed", "primed_via_ink")}
    per_feat = {c: [] for c in per}
    for (w, cond, s, _, text), s3 in zip(jobs, out):
        A, B, _ = picks[w]
        f = features(s3, text)
        per[cond].append(dist(f, w, {A}))
        real = np.mean([features(lines.strokes[i], lines.texts[i]) for i in by_writer[w] if i != A], 0)
        per_feat[cond].append(np.abs(f - real) / sd)
    floor, ceiling, n = [], [], len(writers)
    for k, w in enumerate(writers):
        A, B, _ = picks[w]
        floor.append(dist(features(lines.strokes[B], lines.texts[B]), w, {A, B}))
        session = lines.writers[picks[w][0]]          # another session: surely another writer
        others = [v for v in writers if lines.writers[picks[v][0]] != session] or [writers[(k + 1) % n]]
        Bo = picks[others[k % len(others)]][1]
        ceiling.append(dist(features(lines.strokes[Bo], lines.texts[Bo]), w, {A}))
    def closer(cond):   # fraction of writers whose lines primed this way are nearer than unprimed ones
        return round(float(np.mean([np.mean(per[cond][i * a.seeds:(i + 1) * a.seeds]) <
                                    np.mean(per["unprimed"][i * a.seeds:(i + 1) * a.seeds]) for i in range(n)])), 3)
    res = {"writers": n, "seeds": a.seeds, "bias": a.bias, "generate_seconds": round(gen_s, 1),
           "distance_mean": {c: round(float(np.mean(v)), 3) for c, v in per.items()},
           "distance_sem": {c: round(float(np.std(v) / np.sqrt(len(v))), 3) for c, v in per.items()},
           "real_same_writer": round(float(np.mean(floor)), 3), "real_other_writer": round(float(np.mean(ceiling)), 3),
           "writers_closer_than_unprimed": {c: closer(c) for c in ("primed", "primed_via_ink")},
           "per_feature_abs_z": {c: dict(zip(FEATURES, np.mean(v, 0).round(3).tolist())) for c, v in per_feat.items()},
           "feature_sd": dict(zip(FEATURES, sd.round(4).tolist()))}
    print(json.dumps(res, indent=1))
    if a.out:
        from pathlib import Path
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1))
    if a.figure:
        from jaxseq.viz.strokes import plot_grid
        rows, titles = [], []
        for w in writers[:4]:
            A, B, _ = picks[w]
            got = {j[1]: s3 for j, s3 in zip(jobs, out) if j[0] == w and j[2] == 0}
            rows += [lines.strokes[A], lines.strokes[B], got["primed"], got["unprimed"]]
            titles += [f"writer {w}: prime", "their real line", "primed", "unprimed"]
        print("wrote", plot_grid(a.figure, rows, titles, ncols=4, cell=(4.0, 1.1)))


if __name__ == "__main__":
    main()
