"""bench/load.py's and bench/pyspy.py's pure parts: the CPU split, the CPU per stream per
audio-second, the top of a profile, and the message when py-spy is missing; and
bench/engine.py on a few streams."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import load
import pyspy


def test_split_cpus_reserves_a_quarter_for_clients_from_four_cpus() -> None:
    assert load.split_cpus(range(8), None) == ({0, 1, 2, 3, 4, 5}, {6, 7})
    assert load.split_cpus([0, 1], None) == ({0, 1}, {0, 1})  # too few: all share
    assert load.split_cpus([0, 1], 1) == ({0}, {1})
    with pytest.raises(ValueError, match="client-cpus"):
        load.split_cpus([0, 1], 2)  # the server would have none


def test_cpu_per_stream_per_audio_second() -> None:
    # 10 streams x 3 s of 8 kHz audio = 30 audio-seconds; 0.6 CPU-seconds -> 20 ms each.
    level = load.Level(10, 8000, sent_samples=10 * 3 * 8000, cpu_seconds=0.6, wall_seconds=3.0)
    assert level.cpu_ms_per_stream_s == pytest.approx(20.0)
    assert level.cpu_percent == pytest.approx(20.0)


def test_top_functions_ranks_by_self_share_and_counts_total_once_per_sample() -> None:
    profile = {
        "shared": {
            "frames": [
                {"name": "main", "file": "/x/app.py", "line": 1},
                {"name": "decode", "file": "/x/beam.py", "line": 9},
                {"name": "send", "file": "", "line": 0},
            ]
        },
        "profiles": [  # stacks root first, as py-spy writes them
            {"samples": [[0, 1], [0, 1], [0, 1, 1], [0, 2]], "weights": [1, 1, 1, 1]},
            {"samples": [[0], [], [0, 2]], "weights": [1, 5, 2]},  # an empty stack: idle
        ],
    }
    top = pyspy.top_functions(profile, 2)
    # 7 samples of weight: decode is innermost in 3, send in 1 + 2, main in 1.
    assert [name for name, _, _ in top] == ["decode (beam.py:9)", "send"]
    assert top[0][1:] == pytest.approx((3 / 7, 3 / 7))  # recursion counted once
    assert top[1][1:] == pytest.approx((3 / 7, 3 / 7))
    assert pyspy.top_functions(profile, 3)[2] == ("main (app.py:1)", 1 / 7, 1.0)


def test_by_thread_ranks_each_thread_on_its_own_samples() -> None:
    frames = [
        {"name": "select", "file": "/x/selectors.py", "line": 4},
        {"name": "step", "file": "/x/batcher.py", "line": 7},
    ]
    profile = {
        "shared": {"frames": frames},
        "profiles": [
            {"name": "MainThread", "samples": [[0], [0], [1]], "weights": [1, 1, 2]},
            {"name": "batcher", "samples": [[1], []], "weights": [3, 9]},  # 9 idle
        ],
    }
    (main, main_top), (worker, worker_top) = pyspy.by_thread(profile, 5)
    assert (main, worker) == ("MainThread", "batcher")
    assert main_top == [("select (selectors.py:4)", 0.5, 0.5), ("step (batcher.py:7)", 0.5, 0.5)]
    assert worker_top == [("step (batcher.py:7)", 1.0, 1.0)]  # idle samples count nowhere


def test_profile_without_py_spy_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(SystemExit, match="needs the py-spy package"):
        load.main(["--profile", str(tmp_path / "p.json")])


def test_engine_bench_runs_every_stream_through_the_batcher_and_prices_it() -> None:
    import engine

    from streamasr.decode.endpoint import EndpointConfig
    from streamasr.decode.factory import DecoderChoice
    from streamasr.engine.recognizer import Recognizer

    recognizer = Recognizer.from_file(engine.DEFAULT_MODEL_PATH, EndpointConfig())
    pcm = (np.sin(np.arange(8000) * 0.3) * 8000).astype("<i2")  # 1 s at 8 kHz
    cpu, step, wall = engine.run_level(recognizer, DecoderChoice("greedy"), 3, pcm, 8000, 0.5)
    # 3 streams x 0.5 s: every message answered (run_level raises otherwise), all priced.
    assert cpu > 0 and step > 0 and wall > 0
    assert step < wall  # the step is part of each tick's wall time, not all of it


def test_stream_levels_are_positive_whole_numbers_or_a_clear_error() -> None:
    import argparse

    assert load.stream_levels("10,50,100") == [10, 50, 100]
    with pytest.raises(argparse.ArgumentTypeError, match="whole numbers"):
        load.stream_levels("10,abc")
    with pytest.raises(argparse.ArgumentTypeError, match="positive"):
        load.stream_levels("0,5")


def test_the_floor_server_answers_every_message_of_the_load_clients(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # bin/bench load --floor, end to end on loopback: the floor server and the same clients
    # as the daemon's levels. Every audio message gets its reply (nothing lost) and the
    # level is priced, so the floor is comparable with the daemon's figures.
    rc = load.main(["--floor", "--streams", "3", "--seconds", "1.5", "--warmup", "0.3"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert rc == 0, last
    fields = dict(item.split("=") for item in last.split())
    assert fields["STREAMS"] == "3"
    assert fields["LOST_SAMPLES"] == "0"
    # Priced: a number. The floor server can cost less than one clock tick (10 ms) over
    # the level, so 0.00 is a true reading; test_server_cpu_is_read_from_proc checks that
    # the reading is the server's.
    assert float(fields["CPU_MS_PER_STREAM_S"]) >= 0


def test_server_cpu_is_read_from_proc() -> None:
    # A child that burns 0.3 s of CPU, then waits: load.cpu_seconds reads about that much.
    burn = (
        "import sys, time\n"
        "t = time.process_time()\n"
        "while time.process_time() - t < 0.3: pass\n"
        "print('burnt', flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "burnt\n"
        assert 0.25 <= load.cpu_seconds(child.pid) < 2.0
    finally:
        child.kill()
        child.wait()
