"""The mic command says what the capture lost, once per new loss: samples the full ring
dropped and input the sound device dropped."""

from __future__ import annotations

import io

import numpy as np
import pytest

from streamasr.audio.mic import Microphone
from streamasr.cli.mic import Display, _say_losses


def lossy_microphone() -> Microphone:
    """A microphone that was never started, with a four-sample ring."""
    mic = Microphone(sample_rate=4, ring_seconds=1.0)
    assert mic.ring.capacity == 4
    return mic


def test_each_new_loss_is_said_once(capsys: pytest.CaptureFixture[str]) -> None:
    mic = lossy_microphone()
    display = Display(io.StringIO(), io.StringIO(), level=False)
    _say_losses(mic, display)
    assert capsys.readouterr().err == ""
    mic.ring.write(np.zeros(7, np.float32))  # three samples do not fit
    mic.driver_overflows = 2
    _say_losses(mic, display)
    said = capsys.readouterr().err
    assert "lost 3 samples" in said
    assert "dropped input 2 time(s)" in said
    _say_losses(mic, display)
    assert capsys.readouterr().err == ""  # nothing new
    mic.driver_overflows = 3
    _say_losses(mic, display)
    assert "dropped input 1 time(s)" in capsys.readouterr().err
    mic.ring.close()
