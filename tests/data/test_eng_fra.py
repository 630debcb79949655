"""The NMT text pipeline (normalise, tokenize, Vocab) and the eng-fra loader, filters, split and batches."""
from __future__ import annotations

import numpy as np
import pytest

from jaxseq.data import eng_fra
from jaxseq.errors import DataError
from jaxseq.data.vocab import EOS_ID, PAD_ID, SOS_ID, UNK_ID, Vocab, normalise, tokenize


# ------------------------------------------------------------------------------------------ text
def test_normalise_like_the_tutorial():
    assert normalise("  Je suis FÂCHÉ!  ") == "je suis fache !"
    assert normalise("I'm cold.") == "i m cold ."
    assert normalise("Où es-tu ?") == "ou es tu ?"
    assert normalise("Run!\u202f") == "run !"
    assert normalise("123 ,;") == ""


def test_tokenizer_round_trip_and_unk():
    sents = [tokenize(s) for s in ["I am cold.", "He is tall!", "I am tall?"]]
    v = Vocab.build(sents, min_count=1)
    assert v.itos[:4] == ["<pad>", "<sos>", "<eos>", "<unk>"]
    for s in sents:
        ids = v.encode(s)
        assert ids[-1] == EOS_ID and v.decode(ids) == s
    assert v.encode(["i", "zebra"], eos=False) == [v.stoi["i"], UNK_ID]
    v2 = Vocab.build(sents, min_count=2)  # 'i', 'am', 'tall' appear twice
    assert set(v2.itos[4:]) == {"i", "am", "tall"}
    assert Vocab.from_json(v.to_json()).stoi == v.stoi
    assert v.decode([v.stoi["i"], PAD_ID, SOS_ID, v.stoi["am"], EOS_ID, v.stoi["cold"]]) == ["i", "am"]


# ---------------------------------------------------------------------------------------- loader
def test_bad_lines_counted_not_fatal():
    text = "Go.\tVa !\nno tab here\n\nHi.\t\n123\t!!!x\nI am cold.\tJ'ai froid.\n"
    pairs, rep = eng_fra.parse_pairs(text)
    assert pairs == [("go .", "va !"), ("i am cold .", "j ai froid .")]
    # 'no tab', empty French side, and a side with no letters left ('123'); the blank line is ignored
    assert rep.bad == 3 and rep.lines == 5 and rep.pairs == 2
    assert [n for n, _ in rep.bad_examples] == [2, 4, 5]
    assert "3 bad lines" in str(rep)


def test_tutorial_filter():
    pairs = [("i am cold .", "j ai froid ."), ("i m ok .", "ca va ."), ("go .", "va !"),
             ("you are " + "very " * 6 + "tall .", "x ."), ("they re here .", "ils sont la .")]
    kept = eng_fra.filter_pairs(pairs, "tutorial")
    assert kept == [pairs[0], pairs[1], pairs[4]]
    assert eng_fra.filter_pairs(pairs, "none") == pairs
    with pytest.raises(ValueError):
        eng_fra.filter_pairs(pairs, "bogus")


def test_bucketed_batches_static_shapes_and_deterministic():
    rng = np.random.default_rng(0)
    pairs = [(list(rng.integers(4, 50, n)) + [EOS_ID], list(rng.integers(4, 50, m)) + [EOS_ID])
             for n, m in rng.integers(1, 30, (200, 2))]
    bb = eng_fra.BucketedBatches(pairs, 8, seed=3)
    assert bb.bounds == [12, 16, 24, 36]
    for step in range(30):
        b = bb(step)
        L = b["src"].shape[1]
        assert L in bb.bounds and b["tgt_in"].shape == (8, L)
        assert (b["tgt_in"][:, 0] == SOS_ID).all()
        np.testing.assert_array_equal(b["tgt_mask"], b["tgt_out"] != PAD_ID)
        # decoder input is the target shifted right by one
        np.testing.assert_array_equal(b["tgt_in"][:, 1:] * b["tgt_mask"][:, 1:],
                                      b["tgt_out"][:, :-1] * b["tgt_mask"][:, 1:])
    bb2 = eng_fra.BucketedBatches(pairs, 8, seed=3)
    for step in (0, 17, 45):
        np.testing.assert_array_equal(bb(step)["src"], bb2(step)["src"])
    sp = eng_fra.split(100, seed=1)
    assert sorted(np.concatenate(list(sp.values())).tolist()) == list(range(100))


def test_real_zip_smoke(data_dir):
    path = data_dir / eng_fra.RELPATH
    if not path.exists():
        pytest.skip(f"{path} not present")
    pairs, rep = eng_fra.parse_pairs(eng_fra.read_text(path))
    assert rep.lines == 135842 and rep.pairs + rep.bad == rep.lines and len(pairs) > 130000
    tut = eng_fra.filter_pairs(pairs, "tutorial")
    assert 9000 < len(tut) < 12000
    assert all(e.startswith(eng_fra.ENG_PREFIXES) for e, _ in tut)


# ---------------------------------------------------------------------------------- bad files
def test_non_utf8_lines_are_counted_with_their_numbers():
    raw = "I am cold.\tJ'ai froid.\nA café.\tUn café.\n\nHe is here.\tIl est ici.\n".encode("utf-8")
    raw = raw.replace("café".encode(), "café".encode("latin-1"))
    pairs, rep = eng_fra.parse_pairs(raw)
    assert pairs == [("i am cold .", "j ai froid ."), ("he is here .", "il est ici .")]   # no "caf"
    assert (rep.lines, rep.pairs, rep.bad, rep.not_utf8) == (3, 2, 1, 1)
    assert rep.bad_examples == [(2, "<not UTF-8>")] and "1 not UTF-8" in str(rep)
    # decoded text with replacement characters counts the same way
    assert eng_fra.parse_pairs(raw.decode("utf-8", "replace"))[1].not_utf8 == 1


@pytest.mark.parametrize("name, data, what", [
    ("data.zip", b"not a zip" * 10, "BadZipFile"),
    ("p.txt.gz", __import__("gzip").compress(b"I am cold.\tJ'ai froid.\n" * 99)[:40], "truncated"),
])
def test_damaged_archives_name_the_file(tmp_path, name, data, what):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(DataError, match=f"{tmp_path / name}.*{what}"):
        eng_fra.load_pairs(path=tmp_path / name)


def test_empty_all_bad_or_filtered_out_files_name_the_file(tmp_path):
    p = tmp_path / "p.txt"
    for text, what in (("", "0 lines, 0 pairs"), ("no tab\nx\t\n", r"2 bad lines \(e\.g\. line 1: 'no tab'"),
                       ("Go.\tVa !\n", "passes the 'tutorial' filter")):
        p.write_text(text)
        with pytest.raises(DataError, match=f"{p}.*{what}"):
            eng_fra.load_pairs(path=p)
    with pytest.raises(DataError, match=f"data file {tmp_path / 'nofile'} does not exist"):
        eng_fra.load_pairs(path=tmp_path / "nofile")


# ------------------------------------------------------------------------------- true-case text
def test_truecase_text_keeps_case_accents_and_apostrophes():
    data = "I'm cold.\tJ'ai froid.\nGo!\tVa\u202f!\n\tvide\n"
    pairs, rep = eng_fra.parse_pairs(data, text="truecase")
    assert pairs == [("I'm cold.", "J'ai froid."), ("Go!", "Va\u202f!")] and rep.bad == 1
    assert eng_fra.parse_pairs(data)[0][0] == ("i m cold .", "j ai froid .")   # the tutorial's form
    # the tutorial filter judges raw pairs by their normalised form
    assert eng_fra.filter_pairs([("I'm cold.", "J'ai froid."), ("Go!", "Va !")]) == [("I'm cold.",
                                                                                       "J'ai froid.")]
    assert eng_fra.orient_text(pairs, "fra-eng")[0] == ("J'ai froid.", "I'm cold.")
    with pytest.raises(ValueError, match="text mode 'lower'"):
        eng_fra.parse_pairs(data, text="lower")


def test_unshared_split_keeps_every_source_out_of_training():
    rng = np.random.default_rng(0)
    def word(i):   # letters only: normalisation drops digits
        return "".join(chr(97 + int(d)) for d in str(i))
    en = [f"Sentence {word(i)}." for i in range(300)]
    fr = [f"Phrase {word(i)}." for i in range(4000)]
    # many English sentences with several translations, some French sentences shared between them,
    # and near-duplicates that differ only in case and punctuation
    pairs = [(str(rng.choice(en)), str(rng.choice(fr))) for _ in range(2000)]
    pairs += [(e.upper().replace(".", "!"), f) for e, f in pairs[:50]]
    sp, info = eng_fra.split_unshared(pairs, seed=3)
    key = normalise
    train_en = {key(pairs[i][0]) for i in sp["train"]}
    train_fr = {key(pairs[i][1]) for i in sp["train"]}
    for name in ("valid", "test"):
        assert len(sp[name]) > 0
        assert not {key(pairs[i][0]) for i in sp[name]} & train_en    # eng-fra sources unseen
        assert not {key(pairs[i][1]) for i in sp[name]} & train_fr    # fra-eng sources unseen
    n = sum(len(v) for v in sp.values()) + info["dropped_valid"] + info["dropped_test"]
    assert n == len(pairs) and info["groups"] == len({key(e) for e, _ in pairs})
    again, _ = eng_fra.split_unshared(pairs, seed=3)
    assert all((again[k] == sp[k]).all() for k in sp)                  # deterministic


def test_real_unshared_split_sizes(data_dir):
    path = data_dir / eng_fra.RELPATH
    if not path.exists():
        pytest.skip(f"{path} not present")
    pairs, _ = eng_fra.load_pairs(data_dir, None, "none", text="truecase")
    sp, info = eng_fra.split_unshared(pairs)   # the numbers docs/results_nmt.md reports
    assert {k: len(v) for k, v in sp.items()} == {"train": 122288, "valid": 6191, "test": 6216}
    assert info == {"groups": 93525, "dropped_valid": 544, "dropped_test": 603}
