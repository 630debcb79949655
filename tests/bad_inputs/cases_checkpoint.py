"""Checkpoints that must be refused (issue 10 points 1, 3, 8 and issue 17 point 5): corrupted COPIES of
the shipped checkpoints (an array file with flipped bytes, garbage metadata), a step left incomplete by a
killed prune, a missing directory, and a gs:// run directory without the filesystem package."""
import json
import shutil
from pathlib import Path

from bad_inputs import Case

ROOT = Path(__file__).resolve().parents[2]


def corrupted_copy(shipped, how="array"):
    """setup(tmp): copy ``ckpt/<shipped>`` to ``tmp/bad`` and damage it."""
    def setup(tmp):
        dst = tmp / "bad"
        shutil.copytree(ROOT / "ckpt" / shipped, dst)
        step = next(p for p in dst.iterdir() if p.name.isdigit())
        if how == "array":      # invert 4 KiB in the middle of the largest params array file
            f = max((p for p in (step / "params").rglob("*") if p.is_file() and p.parent.name == "d"),
                    key=lambda p: p.stat().st_size)
            data = bytearray(f.read_bytes())
            mid = len(data) // 2
            data[mid:mid + 4096] = bytes(b ^ 0xFF for b in data[mid:mid + 4096])
            f.write_bytes(data)
        elif how == "meta":     # metadata that is not JSON
            (step / "meta" / "metadata").write_text('{"config": {"hidden": 4')
        elif how == "incomplete":   # what a kill during pruning leaves
            (step / "meta" / "metadata").unlink()
        elif how == "hash":     # a recorded hash that disagrees (tampered or mis-exported)
            meta_path = step / "meta" / "metadata"
            meta = json.loads(meta_path.read_text())
            name = sorted(meta["hashes"]["params"])[0]
            meta["hashes"]["params"][name] = meta["hashes"]["params"][name][:-8] + "00000000"
            meta_path.write_text(json.dumps(meta))
    return setup


CASES = [
    Case("ckpt_corrupt_array_hw", "handwriting.py",
         ["generate", "--ckpt", "{tmp}/bad", "--text", "hello", "--out", "{tmp}/o.svg"],
         names=["{tmp}/bad", "corrupted"], setup=corrupted_copy("handwriting_synthesis")),
    Case("ckpt_corrupt_array_sketch", "sketch_rnn.py",
         ["sample", "--ckpt", "{tmp}/bad", "--out", "{tmp}/o.png"],
         names=["{tmp}/bad", "corrupted"], setup=corrupted_copy("sketch_rnn/sheep")),
    Case("ckpt_corrupt_array_nmt", "nmt_luong.py",
         ["--ckpt", "{tmp}/bad", "--translate", "i am cold ."],
         names=["{tmp}/bad", "corrupted"], setup=corrupted_copy("nmt_luong/eng-fra")),
    Case("ckpt_bad_hash_hw_prediction", "handwriting.py",
         ["generate", "--ckpt", "{tmp}/bad", "--task", "prediction", "--out", "{tmp}/o.svg"],
         names=["{tmp}/bad", "step 4500", "does not match its recorded hash"],
         setup=corrupted_copy("handwriting_prediction", "hash")),
    Case("ckpt_meta_not_json", "sketch_rnn.py",
         ["sample", "--ckpt", "{tmp}/bad", "--out", "{tmp}/o.png"],
         names=["{tmp}/bad", "not valid JSON"], setup=corrupted_copy("sketch_rnn/sheep", "meta")),
    Case("ckpt_incomplete_step", "handwriting.py",
         ["generate", "--ckpt", "{tmp}/bad", "--text", "hello", "--out", "{tmp}/o.svg"],
         names=["{tmp}/bad"], setup=corrupted_copy("handwriting_synthesis", "incomplete")),
    Case("ckpt_missing_dir", "handwriting.py",
         ["generate", "--ckpt", "{tmp}/nope", "--text", "hello", "--out", "{tmp}/o.svg"],
         names=["{tmp}/nope"]),
    Case("ckpt_gs_without_gcsfs", "handwriting.py",
         ["train", "--synthetic", "40", "--steps", "1", "--batch-size", "4", "--hidden", "8",
          "--ckpt-dir", "gs://jaxseq-test-bucket/run"],
         names=["gs://jaxseq-test-bucket/run", "pip install gcsfs"]),
]
