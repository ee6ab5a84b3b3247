"""Defaults shared by the protocol, the server and the command line (no heavy imports, so
``streamasr --help`` stays fast)."""

from __future__ import annotations

DEFAULT_SAMPLE_RATE = 8000  # vosk-server's default: Asterisk's res_speech_vosk sends no config
DEFAULT_MAX_MESSAGE_BYTES = 1 << 20  # 32 s of 16 kHz int16 in one message is plenty
DEFAULT_PORT = 2700  # vosk-server's port
DEFAULT_LOG_LEVEL = "info"  # serve --log-level: session start/end lines are at info
DEFAULT_LOG_FORMAT = "text"  # serve --log-format: "text" or "json" (one object per line)
