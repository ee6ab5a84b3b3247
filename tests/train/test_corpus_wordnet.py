"""train.corpus.wordnet: WordNet's example sentences as evaluation text."""

from __future__ import annotations

from pathlib import Path

import pytest

from train.corpus import synth
from train.corpus.wordnet import WORDNET_DIR, evaluation_sentences, example_passages

# Lines as WordNet 3.0's data files write them: a licence header indented by two spaces, then
# one synset per line with its gloss after "|", examples in double quotes.
HEADER = "  1 This software and database is being provided to you, the LICENSEE\n"
NOUN = (
    "00001740 03 n 01 entity 0 | that which is perceived or known\n"
    '02084071 05 n 01 dog 0 | a domesticated canid; "the dog barked all night"\n'
)
VERB = (
    "01835496 38 v 01 travel 0 | change location; "
    '"the policemen went from door to door"; "Dr. Smith travelled 2 miles"\n'
    '01835497 38 v 01 go 0 | leave; "go"\n'
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "data.noun").write_text(HEADER + NOUN, encoding="latin-1")
    (tmp_path / "data.verb").write_text(HEADER + VERB, encoding="latin-1")
    (tmp_path / "data.adj").write_text(HEADER, encoding="latin-1")
    (tmp_path / "data.adv").write_text(HEADER, encoding="latin-1")
    return tmp_path


def test_the_examples_are_the_quoted_parts_of_the_glosses(root: Path) -> None:
    assert list(example_passages(root)) == [
        "the dog barked all night",
        "the policemen went from door to door",
        "Dr. Smith travelled 2 miles",
        "go",
    ]


def test_sentences_are_normalised_like_the_training_text_and_seeded(root: Path) -> None:
    sentences = evaluation_sentences(0, root=root)
    assert sorted(sentences) == [
        "doctor smith travelled two miles",
        "the dog barked all night",
        "the policemen went from door to door",
    ]  # "go" is under three words
    assert evaluation_sentences(0, root=root) == sentences
    orders = {tuple(evaluation_sentences(seed, root=root)) for seed in range(8)}
    assert len(orders) > 1
    banned = evaluation_sentences(0, exclude=["the dog barked all night"], root=root)
    assert "the dog barked all night" not in banned and len(banned) == 2


def test_a_missing_package_names_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="apt-get install wordnet-base"):
        list(example_passages(tmp_path))


def test_no_evaluation_sentence_is_in_the_training_text(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synth, "build_sentences", lambda seed: ["the dog barked all night"])
    monkeypatch.setattr(
        synth,
        "evaluation_sentences",
        lambda seed, exclude: evaluation_sentences(seed, exclude, root),
    )
    assert "the dog barked all night" not in synth.wordnet_sentences(0)
    assert len(synth.wordnet_sentences(0)) == 2


def test_the_installed_wordnet_gives_tens_of_thousands_of_sentences() -> None:
    """Debian's wordnet-base, as train/setup_tts.sh installs it."""
    assert (WORDNET_DIR / "data.noun").is_file(), "run train/setup_tts.sh"
    sentences = evaluation_sentences(0)
    assert len(sentences) > 30_000
    assert "take care when you cross the street" in sentences
