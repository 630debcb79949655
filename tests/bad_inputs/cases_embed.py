"""Hostile input for experiments/embeddings.py and experiments/pos_tagger.py: unknown query words, empty
corpora, malformed CoNLL-U, tags the model never saw, empty sentences, another family's checkpoint."""
from __future__ import annotations

from pathlib import Path

from bad_inputs import Case

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = str(ROOT / "tests" / "fixtures" / "toy.conllu")
TAGGER = str(ROOT / "ckpt" / "pos_tagger" / "toy")


def _write(name, text):
    def setup(tmp):
        (tmp / name).write_text(text, encoding="utf-8")
    return setup


CASES = [
    Case("emb_unknown_word", "embeddings.py", ["neighbours", "king", "zebraqq"], names=["'zebraqq'"]),
    Case("emb_k_zero", "embeddings.py", ["neighbours", "king", "--k", "0"], names=["--k 0"]),
    Case("emb_plot_unknown_word", "embeddings.py", ["plot", "--words", "king", "zebraqq", "--out", "{tmp}/p.png"],
         names=["'zebraqq'"]),
    Case("emb_empty_corpus", "embeddings.py", ["train", "--corpus", "text", "--text", "{tmp}/empty.txt",
                                               "--out", "{tmp}/run", "--no-progress"],
         names=["{tmp}/empty.txt", "empty corpus"], setup=_write("empty.txt", "\n  \n?!\n")),
    Case("emb_missing_text", "embeddings.py", ["train", "--corpus", "text", "--text", "{tmp}/nope.txt",
                                               "--out", "{tmp}/run"], names=["{tmp}/nope.txt"]),
    Case("emb_dim_zero", "embeddings.py", ["train", "--dim", "0", "--out", "{tmp}/run"], names=["--dim", "0"]),
    Case("emb_tagger_ckpt", "embeddings.py", ["neighbours", "--ckpt", TAGGER, "king"],
         names=[TAGGER, "word embeddings"]),
    Case("pos_empty_sentence", "pos_tagger.py", ["predict", "The dog", "  "], names=["'  '"]),
    Case("pos_unseen_tags", "pos_tagger.py", ["eval", "--data", FIXTURE], names=["'NOUN'"]),
    Case("pos_empty_conllu", "pos_tagger.py", ["train", "--train", "{tmp}/e.conllu", "--out", "{tmp}/run"],
         names=["{tmp}/e.conllu", "empty corpus"], setup=_write("e.conllu", "# only a comment\n\n")),
    Case("pos_bad_conllu_line", "pos_tagger.py", ["train", "--train", "{tmp}/b.conllu", "--out", "{tmp}/run"],
         names=["{tmp}/b.conllu:2", "10 TAB-separated"],
         setup=_write("b.conllu", "# text = hi\n1\tHi\thi\tINTJ\n")),
    Case("pos_embeddings_ckpt", "pos_tagger.py", ["predict", "--ckpt", str(ROOT / "ckpt" / "embeddings" / "shakespeare"),
                                                  "hello"], names=["pos tagger"]),
]
