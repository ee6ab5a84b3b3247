"""What every command shares: the decoder flags, loading the model with a clear error, and
the error line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from streamasr.cli.common import (
    CommandError,
    add_decoder_arguments,
    add_model_argument,
    decoder_choice,
    fail,
    load_model,
)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="streamasr-test")
    add_model_argument(parser)
    add_decoder_arguments(parser)
    return parser.parse_args(argv)


def test_commands_default_to_beam_search_with_the_bundled_lm() -> None:
    assert parse().lm is None  # the bundled LM (not loaded here: seconds of work)
    choice = decoder_choice(parse("--lm", "none"))
    assert choice.kind == "beam"
    assert choice.beam_size > 1


def test_flags_reach_the_choice() -> None:
    choice = decoder_choice(parse("--decoder", "greedy", "--lm", "none", "--beam-size", "3"))
    assert (choice.kind, choice.lm_path, choice.beam_size) == ("greedy", "none", 3)


def test_an_unknown_decoder_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("--decoder", "viterbi")
    assert exited.value.code == 2
    assert "viterbi" in capsys.readouterr().err


def test_a_bad_beam_size_is_refused_before_any_work(model_file: Path) -> None:
    with pytest.raises(ValueError, match="beam"):
        decoder_choice(parse("--beam-size", "0"))
    with pytest.raises(CommandError, match="beam"):
        load_model(parse("--model", str(model_file), "--beam-size", "0"))


def test_a_missing_model_is_a_command_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.streamasr"
    with pytest.raises(CommandError, match=r"nowhere\.streamasr"):
        load_model(parse("--model", str(missing)))


def test_a_file_that_is_not_a_model_is_a_command_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.streamasr"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(CommandError):
        load_model(parse("--model", str(junk)))


def test_a_model_file_loads_with_the_checked_decoder_choice(model_file: Path) -> None:
    model, choice = load_model(parse("--model", str(model_file), "--decoder", "greedy"))
    assert choice.kind == "greedy"
    stream = model.stream(decoder="greedy")
    assert stream.finish() is not None


def test_fail_prints_one_error_line_and_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert fail("streamasr", "no such file: x.wav") == 2
    captured = capsys.readouterr()
    assert captured.err == "streamasr: error: no such file: x.wav\n"
    assert captured.out == ""
