"""streamasr: real-time streaming speech recognition.

    import streamasr

    model = streamasr.load()  # the bundled model (or a path to a .streamasr file)
    stream = model.stream(sample_rate=16000)  # beam search + bundled LM, as the commands
    for result in stream.accept(pcm):  # int16 bytes or a float array, any chunk size
        print("final" if result.is_final else "partial", result.text)
    print(stream.finish()[-1].text)

``load`` imports jax; ``import streamasr`` does not. The daemon (``streamasr serve``) and
the commands are built on the same code: see ``streamasr.api``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamasr.api import Model, Stream, load
    from streamasr.decode.factory import DecoderChoice
    from streamasr.decode.hypothesis import Hypothesis, Word

# Resolved on first use, so that importing any submodule (streamasr.constants, say) does not
# load the decoders: the public names live in the modules below.
_HOMES = {
    "DecoderChoice": "streamasr.decode.factory",
    "Hypothesis": "streamasr.decode.hypothesis",
    "Model": "streamasr.api",
    "Stream": "streamasr.api",
    "Word": "streamasr.decode.hypothesis",
    "load": "streamasr.api",
}

__all__ = ["DecoderChoice", "Hypothesis", "Model", "Stream", "Word", "load"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'streamasr' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
