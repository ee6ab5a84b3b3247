from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from streamasr.audio.files import AudioFileError, read_audio


@pytest.mark.parametrize("fmt,ext", [("WAV", "wav"), ("FLAC", "flac"), ("OGG", "ogg")])
def test_reads_mono_files_at_native_rate(tmp_path: Path, fmt: str, ext: str) -> None:
    x = (0.3 * np.sin(np.arange(8000) / 10)).astype(np.float32)
    path = tmp_path / f"a.{ext}"
    sf.write(path, x, 8000, format=fmt)
    audio = read_audio(path)
    assert audio.sample_rate == 8000
    assert audio.samples.dtype == np.float32
    assert audio.samples.size == 8000
    assert audio.duration == pytest.approx(1.0)


def test_errors_name_the_file_and_the_problem(tmp_path: Path) -> None:
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.zeros((100, 2), np.float32), 16000)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF not really a wave file")
    cases = {
        tmp_path / "missing.wav": "no such file",
        stereo: "2 channels",
        empty: "no audio samples",
        junk: "unreadable audio",
        tmp_path: "is a directory",
    }
    for path, message in cases.items():
        with pytest.raises(AudioFileError, match=message) as e:
            read_audio(path)
        assert str(path) in str(e.value)
