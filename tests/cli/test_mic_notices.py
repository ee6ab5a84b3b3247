"""The mic command says what the capture lost, once per new loss: samples the full ring
dropped and input the sound device dropped."""

from __future__ import annotations

import io

import numpy as np
import pytest

from streamasr.audio.ring import Ring
from streamasr.cli.mic import Display, _LossNotices


class LossyMicrophone:
    def __init__(self) -> None:
        self.ring = Ring(4)
        self.driver_overflows = 0


def test_each_new_loss_is_said_once(capsys: pytest.CaptureFixture[str]) -> None:
    mic = LossyMicrophone()
    display = Display(io.StringIO(), io.StringIO(), level=False)
    notices = _LossNotices()
    notices.check(mic, display)
    assert capsys.readouterr().err == ""
    mic.ring.write(np.zeros(7, np.float32))  # three samples do not fit
    mic.driver_overflows = 2
    notices.check(mic, display)
    said = capsys.readouterr().err
    assert "lost 3 samples" in said
    assert "dropped input 2 time(s)" in said
    notices.check(mic, display)
    assert capsys.readouterr().err == ""  # nothing new
    mic.driver_overflows = 3
    notices.check(mic, display)
    assert "dropped input 1 time(s)" in capsys.readouterr().err
    mic.ring.close()
