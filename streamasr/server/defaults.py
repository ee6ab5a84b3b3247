"""The daemon's defaults, defined once: ``ServerOptions`` (server/app.py), the protocol's
``SessionOptions`` and the ``serve`` command's flags all read them from here (no heavy
imports, so ``streamasr --help`` stays fast)."""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"  # loopback unless asked: the daemon has no auth by default
DEFAULT_PORT = 2700  # vosk-server's port
DEFAULT_SAMPLE_RATE = 8000  # vosk-server's default: Asterisk's res_speech_vosk sends no config
DEFAULT_MAX_CONNECTIONS = 200  # recognition sessions; more are refused with HTTP 503
DEFAULT_MAX_LISTENERS = 100  # clients of the microphone broadcast
DEFAULT_MAX_MESSAGE_BYTES = 1 << 20  # 32 s of 16 kHz int16 in one message is plenty
DEFAULT_MAX_QUEUE = 8  # audio messages in flight per connection before reading pauses
# websockets' own queue of received frames per connection (not a flag): the recognizer's
# max_queue above is what bounds a session's audio in flight.
WEBSOCKET_MAX_QUEUE = 4
DEFAULT_IDLE_TIMEOUT = 60.0  # seconds without a message before a session ends
DEFAULT_MAX_SESSION_SECONDS = 4 * 3600.0  # wall-clock session limit
DEFAULT_DRAIN_TIMEOUT = 10.0  # seconds SIGTERM waits for live sessions' finals
DEFAULT_WORKERS = 1  # server processes sharing the port
# XLA's CPU compute threads per server process (0: one per CPU). One: the daemon's batched
# calls are small, and a second thread made them 15-25% dearer in CPU and no faster, while
# the websocket side needed the core (docs/performance.md). More cores: more --workers.
DEFAULT_XLA_THREADS = 1
# How long the recognizer's round may wait for more streams' audio before one batched step.
# Off: on the 2-core CPU host a 20 ms window cost latency and bought no streams
# (docs/performance.md); it is for hosts where each call of the step is dear (accelerators).
DEFAULT_GATHER_MS = 0.0
DEFAULT_LOG_LEVEL = "info"  # serve --log-level: session start/end lines are at info
DEFAULT_LOG_FORMAT = "text"  # serve --log-format: "text" or "json" (one object per line)
