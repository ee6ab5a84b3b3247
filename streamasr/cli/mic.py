"""``streamasr mic``: dictation from the microphone in the terminal.

Finals are printed to stdout one per line; when stderr is a terminal, one live line there
shows a level meter and the partial hypothesis. ``--connect ws://...`` streams the
microphone to a remote daemon instead of recognizing locally.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from streamasr.audio.mic import MicError, Microphone, level_db, list_input_devices
from streamasr.cli.common import (
    CommandError,
    add_decoder_arguments,
    add_model_argument,
    fail,
    load_model,
)
from streamasr.constants import BLOCK_SAMPLES, SAMPLE_RATE

if TYPE_CHECKING:
    from streamasr.audio.ring import FloatArray

PROG = "streamasr mic"
# Printed once the model is loaded and the microphone captures: speak from here on.
LISTENING = "listening (Ctrl-C to stop)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_argument(p)
    p.add_argument("--device", help="input device name or index (default: the system's)")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument("--connect", metavar="URL", help="stream to a daemon (ws://host:2700)")
    p.add_argument("--token", help="bearer token for --connect")
    p.add_argument("--seconds", type=float, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--no-level", action="store_true", help="no level meter on the live line")
    add_decoder_arguments(p)


class Display:
    """Finals to ``out``; a live line (level meter + partial) on ``live`` if it is a tty."""

    def __init__(self, out: TextIO, live: TextIO, level: bool) -> None:
        self.out = out
        self.live = live if live.isatty() else None
        self.level = level
        self.db = -96.0
        self.partial = ""

    def _line(self) -> None:
        if self.live is None:
            return
        meter = ""
        if self.level:
            bars = int((self.db + 60) / 60 * 10)
            meter = "[" + "#" * max(0, min(10, bars)) + " " * (10 - max(0, min(10, bars))) + "] "
        self.live.write("\r\x1b[K" + meter + self.partial[-100:])
        self.live.flush()

    def audio(self, samples: FloatArray) -> None:
        self.db = level_db(samples)

    def show_partial(self, text: str) -> None:
        self.partial = text
        self._line()

    def show_final(self, text: str) -> None:
        if self.live is not None:
            self.live.write("\r\x1b[K")
            self.live.flush()
        if text:
            print(text, file=self.out, flush=True)
        self.partial = ""
        self._line()

    def notice(self, message: str) -> None:
        if self.live is not None:
            self.live.write("\r\x1b[K")
        print(f"streamasr mic: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.list_devices:
        print("\n".join(list_input_devices()) or "no input devices")
        return 0
    if args.seconds is not None and not args.seconds > 0:
        return fail(PROG, f"--seconds must be positive, got {args.seconds}")
    display = Display(sys.stdout, sys.stderr, not args.no_level)
    try:
        if args.connect:
            return asyncio.run(_remote(args, display))
        return _local(args, display)
    except MicError as e:
        return fail(PROG, str(e))
    except KeyboardInterrupt:
        return 130


def _deadline(args: argparse.Namespace) -> float:
    return time.monotonic() + args.seconds if args.seconds else float("inf")


def _say_losses(mic: Microphone, display: Display) -> None:
    """A notice for each new loss of the capture (``Microphone.new_losses``)."""
    lost = mic.new_losses()
    if lost.ring_samples:
        display.notice(f"lost {lost.ring_samples} samples: the recognizer fell behind")
    if lost.device_overflows:
        display.notice(
            f"the sound device dropped input {lost.device_overflows} time(s): the machine is busy"
        )


def _local(args: argparse.Namespace, display: Display) -> int:
    try:
        model, decoding = load_model(args)
    except CommandError as e:
        return fail(PROG, str(e))
    stream = model.stream(SAMPLE_RATE, decoder=decoding)
    end = _deadline(args)
    with Microphone(args.device) as mic:
        display.notice(LISTENING)
        try:
            while time.monotonic() < end:
                mic.ring.wait(min(0.5, max(0.0, end - time.monotonic())))
                if mic.ring.available < BLOCK_SAMPLES:
                    continue
                samples = mic.ring.read()
                _say_losses(mic, display)
                display.audio(samples)
                *finals, partial = stream.accept(samples)
                for final in finals:
                    display.show_final(final.text)
                display.show_partial(partial.text)
        except KeyboardInterrupt:
            pass
        rest = mic.ring.read()
    if rest.size:
        for final in stream.accept(rest)[:-1]:
            display.show_final(final.text)
    for final in stream.finish():
        display.show_final(final.text)
    return 0


async def _remote(args: argparse.Namespace, display: Display) -> int:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    try:
        ws = await connect(args.connect, additional_headers=headers, max_size=1 << 20)
    except (OSError, InvalidURI, InvalidStatus) as e:
        return fail(PROG, f"cannot connect to {args.connect}: {e}")
    loop = asyncio.get_running_loop()
    mic = Microphone(args.device)
    wake = asyncio.Event()
    async with ws:
        await ws.send(
            json.dumps(
                {"config": {"sample_rate": SAMPLE_RATE, "native": True, "sample_format": "f32le"}}
            )
        )

        async def receive() -> tuple[int, str]:
            try:
                async for message in ws:
                    reply = json.loads(message)
                    if reply.get("is_final"):
                        display.show_final(reply.get("text", ""))
                    elif "partial" in reply:
                        display.show_partial(reply["partial"])
                    elif "error" in reply:
                        display.notice(f"server error: {reply['error']}")
            except ConnectionClosed:
                pass
            rcvd = ws.close_code or 1006, ws.close_reason or ""
            return rcvd

        receiver = asyncio.create_task(receive())
        await asyncio.to_thread(mic.start)
        display.notice(LISTENING)
        loop.add_reader(mic.ring.fileno(), wake.set)
        end = _deadline(args)
        streamed = 0
        try:
            while time.monotonic() < end and not receiver.done():
                wake.clear()
                mic.ring.clear_wakeups()
                if mic.ring.available >= BLOCK_SAMPLES:
                    samples = mic.ring.read()
                    _say_losses(mic, display)
                    display.audio(samples)
                    await ws.send(samples.astype("<f4").tobytes())
                    streamed += samples.size
                    continue
                try:
                    async with asyncio.timeout(max(0.0, min(1.0, end - time.monotonic()))):
                        await wake.wait()
                except TimeoutError:
                    pass
        except (KeyboardInterrupt, asyncio.CancelledError):
            pass
        finally:
            loop.remove_reader(mic.ring.fileno())
            await asyncio.to_thread(mic.stop)
        rest = mic.ring.read()
        mic.close()
        try:
            if rest.size:
                await ws.send(rest.astype("<f4").tobytes())
                streamed += rest.size
            await ws.send('{"eof": 1}')
        except ConnectionClosed:
            pass
        code, reason = await receiver
    display.notice(
        f"streamed {streamed} samples, lost {mic.ring.overflow}, "
        f"device overflows {mic.driver_overflows}"
    )
    if code != 1000:
        return fail(PROG, f"the server closed the connection: {code} {reason}".strip())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streamasr.cli.mic``: the mic command on its own."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
