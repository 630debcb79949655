"""The joint SentencePiece subword model of true-case NMT: special ids, exact detokenisation of raw text,
byte fallback (no <unk>), the base64 form stored in a checkpoint's meta."""
from __future__ import annotations

import numpy as np
import pytest

from jaxseq.data import subword
from jaxseq.data.vocab import EOS_ID, PAD_ID, SOS_ID, UNK_ID

WORDS = ("je tu il elle nous vous suis es est sommes êtes sont très fatigué aujourd'hui l'école où gare "
         "froid chaud J'ai Ça va à côté Élève garçon I'm cold Where is the station").split()


@pytest.fixture(scope="module")
def sw():
    rng = np.random.default_rng(0)
    sents = [" ".join(rng.choice(WORDS, rng.integers(2, 9))) + str(rng.choice([" !", ".", " ?"]))
             for _ in range(400)]
    return subword.Subword(subword.train(sents, vocab_size=300, threads=1))


def test_specials_match_the_word_vocab(sw):
    assert len(sw) == 300
    assert [sw.sp.id_to_piece(i) for i in (PAD_ID, SOS_ID, EOS_ID, UNK_ID)] == ["<pad>", "<sos>", "<eos>",
                                                                              "<unk>"]


@pytest.mark.parametrize("text", ["J'ai froid à l'école ?", "Ça va très bien, Élève !", "I'm cold.",
                                  "Zürich 😀 naïve"])   # the last: characters never seen in training
def test_round_trip_is_exact_and_never_unk(sw, text):
    ids = sw.encode(text)
    assert ids[-1] == EOS_ID and UNK_ID not in ids
    assert sw.detokenize(ids) == text
    assert sw.detokenize(ids + [PAD_ID, 7, 8]) == text   # stops at <eos>
    assert len(sw.decode(ids)) == len(ids) - 1 and sw.decode(ids)[0].startswith("\u2581")   # pieces
    assert sw.encode(text, eos=False) == ids[:-1]


def test_french_narrow_spaces_become_plain_spaces(sw):
    # Tatoeba's French writes "Cours\u202f!" and "Va !": the nmt_nfkc normaliser makes them one form
    assert sw.encode("Va\u202f!") == sw.encode("Va !") and sw.encode("Va\xa0!") == sw.encode("Va !")


def test_batch_encoding_and_meta_form(sw):
    texts = ["je suis froid.", "Où est la gare ?"]
    assert sw.encode_batch(texts) == [sw.encode(t) for t in texts]
    again = subword.Subword.from_json(sw.to_json())
    assert again.proto == sw.proto and again.encode(texts[1]) == sw.encode(texts[1])


def test_a_model_with_other_special_ids_is_refused():
    import io

    import sentencepiece as spm
    m = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(WORDS * 20), model_writer=m, vocab_size=40,
                                   minloglevel=2)   # sentencepiece's own defaults: <unk>=0, <s>=1, </s>=2
    with pytest.raises(ValueError, match="<pad>=0"):
        subword.Subword(m.getvalue())
