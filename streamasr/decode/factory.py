"""Choosing a decoder: ``make_decoder("greedy" | "beam" | "flashlight", ...)`` and the Decoder
protocol.

The bundled language model (``streamasr/assets/lm.arpa.gz``) is read once per process and
shared by every stream; so is its lexicon (the LM's vocabulary).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from streamasr.decode.beam import BeamDecoder, BeamOptions
from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.flashlight import FlashlightDecoder, FlashlightOptions, load_search
from streamasr.decode.greedy import GreedyDecoder
from streamasr.decode.hypothesis import Hypothesis
from streamasr.decode.lexicon import Lexicon, PhraseList
from streamasr.decode.lm import ArpaError, NgramLM, load_arpa
from streamasr.decode.segmenter import Best

# "flashlight": the lexicon beam search in compiled code (PyPI flashlight-text), not the
# default until `bin/bench decode` shows it costs no accuracy.
KINDS = ("greedy", "beam", "flashlight")
DEFAULT_KIND = "beam"  # better WER on both dev sets at ~2 ms per audio-s (docs/decoding.md)
DEFAULT_BEAM_SIZE = 8
BUNDLED_LM = Path(__file__).resolve().parent.parent / "assets" / "lm.arpa.gz"
NO_LM = "none"  # lm_path value that turns the language model off


class Decoder(Protocol):
    """What the engine drives: log-probabilities in, hypotheses out."""

    frame_seconds: float

    @property
    def frames(self) -> int:
        """Output frames seen since stream start."""
        ...

    @property
    def segment(self) -> int:
        """Number of the current utterance, from 0."""
        ...

    def advance(
        self, log_probs: npt.NDArray[np.float32], best: Best | None = None
    ) -> tuple[int, bool]:
        """``best``: each frame's best symbol and its log-prob, if the caller has them."""
        ...

    def partial(self) -> Hypothesis: ...

    def finalize(self, *, endpoint: bool = False) -> Hypothesis: ...


@functools.lru_cache(maxsize=4)
def load_lm(path: str) -> tuple[NgramLM, Lexicon]:
    """The LM at ``path`` and its lexicon, read once per process; ValueError if unreadable."""
    if not Path(path).is_file():
        raise ValueError(f"language model not found: {path}")
    try:
        lm = load_arpa(path)
    except ArpaError as e:
        raise ValueError(f"bad language model file {path}: {e}") from e
    return lm, Lexicon(lm.vocab)


def make_decoder(
    kind: str,
    frame_seconds: float,
    endpoint: EndpointConfig,
    *,
    lm_path: str | None = None,
    beam_size: int = DEFAULT_BEAM_SIZE,
    phrase_list: Sequence[str] = (),
    restrict: bool = False,
    options: BeamOptions | None = None,
) -> Decoder:
    """A fresh decoder for one stream.

    ``kind`` is "greedy", "beam" or "flashlight". For "beam", ``lm_path=None`` uses the
    bundled LM and ``lm_path="none"`` decodes without LM or lexicon; "flashlight" needs an
    LM (its vocabulary is the lexicon). ``phrase_list`` boosts those phrases (or, with
    ``restrict``, only they can be recognised); only the beam decoder can use them.
    ``options`` overrides every beam option but ``beam_size`` and ``restrict`` (for
    "flashlight", only ``alpha`` and ``beta``).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown decoder {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == "greedy":
        if phrase_list or restrict:
            raise ValueError("phrase lists need the beam decoder (--decoder beam)")
        return GreedyDecoder(frame_seconds, endpoint)
    if kind == "flashlight":
        if phrase_list or restrict:
            raise ValueError("phrase lists need the beam decoder (--decoder beam)")
        if lm_path == NO_LM:
            raise ValueError("the flashlight decoder needs a language model (its lexicon)")
        path = str(BUNDLED_LM if lm_path is None else Path(lm_path).resolve())
        _, words = load_lm(path)
        try:
            weights = options or BeamOptions()  # the LM weight and word bonus carry over
            fl_options = FlashlightOptions(beam_size, alpha=weights.alpha, beta=weights.beta)
        except ValueError as e:
            raise ValueError(f"bad flashlight decoder settings: {e}") from e
        return FlashlightDecoder(frame_seconds, load_search(path, words), endpoint, fl_options)
    opts = options or BeamOptions()
    try:
        opts = BeamOptions(**{**opts.__dict__, "beam_size": beam_size, "restrict": restrict})
        phrases = PhraseList(phrase_list)
    except ValueError as e:
        raise ValueError(f"bad beam decoder settings: {e}") from e
    if restrict and not phrases:
        raise ValueError("restrict=True needs a non-empty phrase list")
    lm: NgramLM | None = None
    lexicon: Lexicon | None = None
    if lm_path != NO_LM and not restrict:
        lm, lexicon = load_lm(str(BUNDLED_LM if lm_path is None else Path(lm_path).resolve()))
    return BeamDecoder(
        frame_seconds, endpoint, opts, lm=lm, lexicon=lexicon, phrases=phrases or None
    )


@dataclass(frozen=True)
class DecoderChoice:
    """How every stream of one process decodes; ``make`` builds one stream's decoder."""

    kind: str = DEFAULT_KIND  # one of KINDS
    lm_path: str | None = None  # None: the bundled LM; "none": no LM
    beam_size: int = DEFAULT_BEAM_SIZE

    def make(
        self,
        frame_seconds: float,
        endpoint: EndpointConfig,
        phrase_list: Sequence[str] = (),
        restrict: bool = False,
    ) -> Decoder:
        """A phrase list needs the beam search, so a session that sends one gets a beam
        decoder even when the process decodes greedily. ValueError on bad settings."""
        kind = "beam" if phrase_list else self.kind
        return make_decoder(
            kind,
            frame_seconds,
            endpoint,
            lm_path=self.lm_path,
            beam_size=self.beam_size,
            phrase_list=phrase_list,
            restrict=restrict,
        )

    def check(self) -> None:
        """Fail now (ValueError), not on the first stream: loads the LM if one is used."""
        self.make(0.04, EndpointConfig())


# Letters only, no LM: the engine's building blocks (engine.stream.Stream, engine.batcher.Batcher)
# decode this way when given no choice, the cheapest; the commands and streamasr.load use
# DecoderChoice(), that is DEFAULT_KIND.
GREEDY = DecoderChoice("greedy")
