"""train.sphinx_lm reads PocketSphinx's packaged trie LM as PocketSphinx itself scores it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pocketsphinx
import pytest

from streamasr.decode.lm import load_arpa
from train.sphinx_lm import NgramTable, TrieLM, main, read_trie, to_ngram_model

MODEL = Path(pocketsphinx.__file__).parent / "model" / "en-us" / "en-us.lm.bin"
LOG_UNITS = 1.0 / math.log10(1.0001)  # pocketsphinx scores in integer logs to base 1.0001


@pytest.fixture(scope="module")
def trie():
    return read_trie(MODEL)


def test_every_order_reads_as_pocketsphinx_scores_it(trie) -> None:
    """300 random n-grams of each order: our log10 probability against the library's own
    `NGramModel.prob` (which takes the words last first and answers in whole log units)."""
    model = pocketsphinx.NGramModel.readfile(str(MODEL))
    rng = np.random.default_rng(0)
    for table in trie.orders:
        for i in rng.choice(len(table.words), 300, replace=False):
            words = [trie.vocab[j] for j in table.words[i]]
            ours = table.logprob[i] * LOG_UNITS
            assert abs(model.prob(words[::-1]) - ours) <= 1.0, words


def test_the_distributions_sum_to_one(trie) -> None:
    """The unigrams, and a bigram context's explicit words plus its backoff to the unigrams."""
    unigrams, bigrams, _ = trie.orders
    p = 10.0**unigrams.logprob
    assert p.sum() == pytest.approx(1.0, abs=1e-4)
    the = trie.vocab.index("the")
    mine = bigrams.words[:, 0] == the
    explicit = bigrams.words[mine, 1]
    total = (10.0 ** bigrams.logprob[mine]).sum()
    total += 10.0 ** unigrams.backoff[the] * (p.sum() - p[explicit].sum())
    assert total == pytest.approx(1.0, abs=1e-3)


def test_the_highest_order_has_no_backoff_and_every_order_its_width(trie) -> None:
    assert [t.words.shape[1] for t in trie.orders] == [1, 2, 3]
    assert trie.orders[2].backoff is None
    assert len(trie.vocab) == len(trie.orders[0].words)


def test_a_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "lm.arpa"
    bad.write_text("\\data\\\nngram 1=1\n")
    with pytest.raises(ValueError, match="not a PocketSphinx trie"):
        read_trie(bad)


def test_words_the_alphabet_cannot_spell_leave_and_their_mass_becomes_unk() -> None:
    vocab = ["<s>", "</s>", "the", "air-conditioning", "b.", "don't"]
    unigram_p = np.array([1e-99, 0.25, 0.4, 0.1, 0.05, 0.2])
    trie = TrieLM(
        vocab,
        [
            NgramTable(np.arange(6)[:, None], np.log10(unigram_p), np.full(6, -0.5)),
            NgramTable(np.array([[0, 2], [2, 3], [2, 5]]), np.log10([0.5, 0.2, 0.3]), np.zeros(3)),
            NgramTable(np.array([[0, 2, 5], [0, 2, 4]]), np.log10([0.6, 0.1]), None),
        ],
    )
    model = to_ngram_model(trie)
    assert model.logprob[("<unk>",)] == pytest.approx(math.log10(0.15))
    assert model.logprob[("the", "don't")] == pytest.approx(math.log10(0.3))
    assert model.logprob[("<s>", "the", "don't")] == pytest.approx(math.log10(0.6))
    kept = {w for gram in model.logprob for w in gram}
    assert kept == {"<s>", "</s>", "the", "don't", "<unk>"}
    assert model.backoff[("the",)] == pytest.approx(-0.5)
    assert model.backoff[("<s>", "the")] == 0.0  # written: it marks a context


def test_the_command_writes_arpa_the_decoder_reads_and_refuses_other_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small = TrieLM(
        ["<s>", "</s>", "go", "on"],
        [
            NgramTable(np.arange(4)[:, None], np.log10([1e-99, 0.3, 0.4, 0.3]), np.zeros(4)),
            NgramTable(np.array([[2, 3]]), np.log10([0.9]), np.zeros(1)),
            NgramTable(np.zeros((0, 3), np.int64), np.zeros(0), None),
        ],
    )
    monkeypatch.setattr("train.sphinx_lm.read_trie", lambda path: small)
    out = tmp_path / "cmu.arpa"
    assert main(["--out", str(out)]) == 0
    lm = load_arpa(out)
    logp, _ = lm.score(lm.score(lm.start(), "go")[1], "on")
    assert logp == pytest.approx(math.log(0.9))
    monkeypatch.undo()
    bad = tmp_path / "README.md"
    bad.write_text("not a model")
    assert main(["--out", str(tmp_path / "x.arpa"), "--model", str(bad)]) == 2
    assert capsys.readouterr().err.strip().endswith("not a PocketSphinx trie language model")
