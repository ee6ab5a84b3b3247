"""The Silero worker: speaks for train/corpus/silero.py in a Python that has PyTorch.

Why a separate process: Silero's model is a TorchScript package, and PyTorch comes from
Debian (python3-torch, CPU only, for the system Python 3.11) rather than from PyPI, whose
wheels bring gigabytes of CUDA libraries. The venv never imports torch; it runs this file
with the system interpreter and talks to it over pipes.

Protocol, one request at a time: a JSON line on stdin ({"text", "speaker", "rate",
"sample_rate"}), answered by a JSON line on stdout, {"samples": n} followed by n float32
little-endian samples, or {"error": "..."}. Reads until stdin closes.

Run as a script (``python3 silero_worker.py MODEL``): it imports nothing from this project.
"""

import json
import os
import sys
from xml.sax.saxutils import escape


def ssml(text: str, rate: float) -> str:
    """The text in SSML with its speaking rate as a percentage of the speaker's own."""
    percent = round(rate * 100)
    return f'<speak><prosody rate="{percent}%">{escape(text)}</prosody></speak>'


def main(model_path: str) -> int:
    # The answers get a private copy of stdout; what the model prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    import torch

    torch.set_num_threads(1)  # one core per corpus worker, like the ONNX engines
    model = torch.package.PackageImporter(model_path).load_pickle("tts_models", "model")
    for line in sys.stdin:
        request = json.loads(line)
        header: dict[str, object]
        try:
            with torch.no_grad():
                audio = model.apply_tts(
                    ssml_text=ssml(request["text"], float(request["rate"])),
                    speaker=request["speaker"],
                    sample_rate=int(request["sample_rate"]),
                )
            data = audio.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
            header = {"samples": len(data) // 4}
        except Exception as e:  # the engine raises bare Exceptions for text it cannot speak
            data, header = b"", {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(header).encode() + b"\n" + data)
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
