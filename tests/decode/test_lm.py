"""Reading ARPA files and scoring words with backoff."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest

from streamasr.decode.lm import ArpaError, load_arpa

LN10 = math.log(10)
ARPA = """\\data\\
ngram 1=5
ngram 2=3
ngram 3=1

\\1-grams:
-1.0\t<s>\t-0.5
-0.7\t</s>
-0.6\ta\t-0.25
-0.8\tb\t-0.4
-2.0\t<unk>

\\2-grams:
-0.3\t<s> a\t-0.1
-0.2\ta b\t-0.2
-0.5\tb </s>

\\3-grams:
-0.05\t<s> a b

\\end\\
"""


@pytest.fixture(params=["plain", "gzip"])
def arpa(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "gzip":
        path = tmp_path / "lm.arpa.gz"
        with gzip.open(path, "wt") as f:
            f.write(ARPA)
    else:
        path = tmp_path / "lm.arpa"
        path.write_text(ARPA)
    return path


def test_scores_with_backoff(arpa: Path) -> None:
    lm = load_arpa(arpa)
    assert lm.order == 3 and lm.vocab == {"a", "b"}
    s = lm.start()
    assert s == ("<s>",)
    p, s = lm.score(s, "a")
    assert p == pytest.approx(-0.3 * LN10) and s == ("<s>", "a")
    p, s = lm.score(s, "b")
    assert p == pytest.approx(-0.05 * LN10)
    assert s == ("a", "b")  # cut to the longest suffix that is a context
    # "a b" then "a": no trigram, no bigram "b a": bo(a b) + bo(b) + p(a)
    p, s = lm.score(s, "a")
    assert p == pytest.approx((-0.2 - 0.4 - 0.6) * LN10)
    assert s == ("a",)
    # "b" after "a b": bo("a b") is the 2-gram's backoff; then "b b" backs off to p(b) * bo(b)
    assert lm.score(("a", "b"), "b")[0] == pytest.approx((-0.2 - 0.4 - 0.8) * LN10)
    assert lm.end(("b",)) == pytest.approx(-0.5 * LN10)
    # unknown words score as <unk> after the same history, and reset the history
    p, s = lm.score(("a",), "zebra")
    assert p == pytest.approx((-0.25 - 2.0) * LN10) and s == ()
    # </s> after "a b": no trigram, so bo("a b") + p(</s> | b)
    assert lm.sentence_logprob(["a", "b"]) == pytest.approx((-0.3 - 0.05 - 0.2 - 0.5) * LN10)


def test_state_drops_words_that_are_not_contexts(arpa: Path) -> None:
    lm = load_arpa(arpa)
    _, s = lm.score(("a",), "</s>")
    assert s == ()  # "</s>" has no backoff entry: nothing ever extends it


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello\n", "outside any section|no \\\\end"),
        (ARPA.replace("ngram 2=3", "ngram 2=4"), "declares 4 2-grams"),
        (ARPA.replace("\\end\\", ""), "no \\\\end"),
        (ARPA.replace("-0.2\ta b", "x\ta b"), "bad number"),
        (ARPA.replace("-0.5\tb </s>", "-0.5\tb"), "expected 2-gram"),
    ],
)
def test_rejects_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    with pytest.raises(ArpaError, match=message):
        load_arpa(path)


def test_unreadable_file_is_an_arpa_error(tmp_path: Path) -> None:
    with pytest.raises(ArpaError, match="cannot read"):
        load_arpa(tmp_path / "missing.arpa")
    bad = tmp_path / "bad.arpa.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ArpaError):
        load_arpa(bad)
