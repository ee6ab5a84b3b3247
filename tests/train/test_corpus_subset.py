from pathlib import Path

import pytest

from train.corpus.manifest import Record, read_manifest, write_manifest
from train.corpus.subset import is_short_or_spelled, main


@pytest.mark.parametrize(
    ("text", "chosen"),
    [
        ("k", True),
        ("hello", True),
        ("turn it off", True),
        ("cloud c l o u d", True),
        ("w w e m z d c", True),
        ("the letter k is here", False),
        ("it was bad enough in the boiler room", False),
        ("", False),
    ],
)
def test_short_or_spelled(text: str, chosen: bool) -> None:
    assert is_short_or_spelled(text) is chosen


def test_writes_the_subset_beside_the_manifest(tmp_path: Path) -> None:
    texts = ["a long sentence of several words", "k", "cloud c l o u d", "yes please"]
    records = [Record(f"audio/{i}.flac", 1.0, t, "espeak/en") for i, t in enumerate(texts)]
    write_manifest(tmp_path / "train.jsonl", records)
    out = tmp_path / "train.short.jsonl"
    assert main([str(tmp_path / "train.jsonl"), "--out", str(out)]) == 0
    assert read_manifest(out) == records[1:]


def test_refuses_a_subset_elsewhere(tmp_path: Path) -> None:
    write_manifest(tmp_path / "train.jsonl", [Record("audio/0.flac", 1.0, "k", "espeak/en")])
    (tmp_path / "other").mkdir()
    with pytest.raises(SystemExit):
        main([str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "other" / "s.jsonl")])
