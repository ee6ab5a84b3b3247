"""Lexicon-constrained CTC beam search with a word n-gram LM in compiled code: flashlight's
``LexiconDecoder`` (PyPI ``flashlight-text``, which bundles KenLM and reads the ARPA file,
gzipped or not), behind the same Decoder protocol as ``beam.BeamDecoder``.

The search runs one frame per ``decode_step`` call, driven by ``segmenter.Segmenter`` like
greedy and beam decoding, so utterances end at the same frames and feeding a stream in any
chunks gives the same results as one pass. What differs from ``beam.BeamDecoder``:

- only lexicon words are recognised (flashlight's trie; no character fallback for unknown
  words), and there are no phrase lists: a session with one gets the Python beam search;
- words end at a space, as in the Python beam: each lexicon spelling ends with the space,
  and ``finalize`` feeds one frame that is surely a space so the last word can end;
- partials are the best live hypothesis's completed words and the letters of the word it is
  spelling; the stable prefix is the completed words every live hypothesis shares;
- the n best come from flashlight's final hypotheses, one per distinct text, each with its
  share of their probability;
- the search keeps at most ``look_back`` + ``PRUNE_EVERY`` frames of paths: every
  ``PRUNE_EVERY`` frames past ``look_back``, the best path's words before the last
  ``look_back`` frames are committed (kept here, in every later result) and flashlight's
  ``prune`` drops the paths behind them. Without it every partial rebuilt each live path
  from the utterance's first frame (2.5 ms per partial at 60 s into an utterance). Pruning
  happens at fixed frames, so any chunking of a stream still gives the same results.

Word times and confidences come from the best path's tokens as in the other decoders: a word
starts at its first letter's first frame and ends one frame after its last letter's first
frame; its confidence is the mean posterior of its letters at those frames.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.hypothesis import Alternative, Hypothesis, Word
from streamasr.decode.lexicon import Lexicon
from streamasr.decode.prefix import common_words
from streamasr.decode.segmenter import Best, SegmentedDecoder, check_log_probs
from streamasr.vocab import BLANK, SYMBOLS

PACKAGE = "flashlight-text"  # the PyPI package this decoder needs
SPACE = SYMBOLS.index(" ")
UNK = "<unk>"
_LN10 = math.log(10.0)  # KenLM scores are log10; the Python beam's options are natural logs
# A frame whose only possible symbol is the space (finite, so flashlight's sums stay finite).
_CLOSING_SPACE = np.full((1, len(SYMBOLS)), -1e5, np.float32)
_CLOSING_SPACE[0, SPACE] = 0.0
_SILENT = (BLANK, SPACE)
PRUNE_EVERY = 25  # frames decoded past look_back before the next commit (one per second)


def available() -> bool:
    try:
        import flashlight.lib.text.decoder  # noqa: F401
    except ImportError:
        return False
    return True


def _import() -> Any:
    try:
        from flashlight.lib.text import decoder
    except ImportError as e:
        raise ValueError(
            f"--decoder flashlight needs the {PACKAGE} package (pip install {PACKAGE})"
        ) from e
    return decoder


@dataclass(frozen=True)
class FlashlightOptions:
    beam_size: int = 8  # hypotheses kept after each frame
    beam_size_token: int = 6  # tokens tried per frame
    beam_threshold: float = 10.0  # hypotheses scoring this far below the best are dropped
    alpha: float = 0.5  # LM weight, on natural-log word probabilities (as in BeamOptions)
    beta: float = 1.0  # word insertion bonus, per word
    unk_penalty: float = math.inf  # cost of an unknown word (inf: lexicon words only)
    look_back: int = 50  # frames the search may still revise; older words are committed

    def __post_init__(self) -> None:
        if self.beam_size < 1 or self.beam_size_token < 1:
            raise ValueError(
                f"beam_size and beam_size_token must be >= 1, got {self.beam_size}, "
                f"{self.beam_size_token}"
            )
        if self.look_back < 1:
            raise ValueError(f"look_back must be >= 1 frame, got {self.look_back}")
        for name in ("beam_threshold", "alpha", "unk_penalty"):
            if not getattr(self, name) >= 0:
                raise ValueError(
                    f"flashlight option {name} must be >= 0, got {getattr(self, name)}"
                )


@dataclass(frozen=True)
class Search:
    """What every stream of one LM shares: the word dictionary, the KenLM model and the
    lexicon trie (read-only while decoding)."""

    words: Any  # flashlight Dictionary: word id -> word
    lm: Any  # flashlight KenLM
    trie: Any  # flashlight Trie over SYMBOLS, words at their last letter
    unk: int  # word id of <unk>


@functools.lru_cache(maxsize=4)
def load_search(lm_path: str, lexicon: Lexicon) -> Search:
    """The KenLM model at ``lm_path`` and a trie of the ``lexicon`` words the model's
    alphabet can spell, built once per process. ValueError if the package is missing."""
    fl = _import()
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    index = {c: i for i, c in enumerate(SYMBOLS) if i not in (BLANK, SPACE)}
    spelled = sorted(w for w in lexicon.words if w and all(c in index for c in w))
    words = Dictionary([*spelled, UNK])
    try:
        lm = KenLM(lm_path, words)
    except RuntimeError as e:  # KenLM's own message says what is wrong with the file
        raise ValueError(f"KenLM cannot read {lm_path}: {e}") from e
    trie = fl.Trie(len(SYMBOLS), SPACE)
    start = lm.start(False)
    for i, word in enumerate(spelled):
        # Spelled with the space that ends it: flashlight completes a word at the last token
        # of its spelling, and without the space any run of letters could be cut into lexicon
        # words for free (each earning the word bonus: "car" came out "c a r").
        trie.insert([*(index[c] for c in word), SPACE], i, lm.score(start, i)[1])
    trie.smear(fl.SmearingMode.MAX)
    return Search(words, lm, trie, len(spelled))


class FlashlightDecoder(SegmentedDecoder):
    """One stream's decoder over flashlight's LexiconDecoder; feed it log-probs [T, V]."""

    def __init__(
        self,
        frame_seconds: float,
        search: Search,
        endpoint: EndpointConfig | None = None,
        options: FlashlightOptions | None = None,
    ) -> None:
        fl = _import()
        super().__init__(frame_seconds, endpoint)
        self.options = opts = options or FlashlightOptions()
        self._search = search
        settings = fl.LexiconDecoderOptions(
            beam_size=opts.beam_size,
            beam_size_token=min(opts.beam_size_token, len(SYMBOLS)),
            beam_threshold=opts.beam_threshold,
            lm_weight=opts.alpha * _LN10,
            word_score=opts.beta,
            unk_score=-opts.unk_penalty if math.isfinite(opts.unk_penalty) else -math.inf,
            sil_score=0.0,
            log_add=True,
            criterion_type=fl.CriterionType.CTC,
        )
        self._decoder = fl.LexiconDecoder(
            settings, search.trie, search.lm, SPACE, BLANK, search.unk, [], False
        )
        self._start_utterance()

    def _start_utterance(self) -> None:
        self._decoder.decode_begin()
        self._first_frame = self.clock.frames  # stream frame of the utterance's frame 0
        self._probs: list[npt.NDArray[np.float32]] = []  # the utterance's posteriors, [1, V]
        self._decoded = False  # the best hypothesis has completed a word (stays true)
        self._committed: list[Word] = []  # the best path's words before the pruned frames
        self._offset = 0  # flashlight's frames pruned away: its path index 0 is this frame

    @property
    def decoded_anything(self) -> bool:
        if not self._decoded:  # a letter on the best live path, as the Python beam counts
            best = self._best_live()
            self._decoded = best is not None and any(t not in _SILENT for t in best.tokens)
        return self._decoded

    @property
    def search_frames(self) -> int:
        """Frames of paths the search holds (at most look_back + PRUNE_EVERY + 1): the
        length of what each partial walks."""
        live = self._decoder.get_all_final_hypothesis()
        return len(live[0].tokens) if live else 0

    def _best_live(self) -> Any:
        """The best live hypothesis, whole (get_best_hypothesis stops at its last completed
        word); None before the first frame."""
        return _best(self._decoder.get_all_final_hypothesis())

    def advance(
        self, log_probs: npt.NDArray[np.float32], best: Best | None = None
    ) -> tuple[int, bool]:
        """Consume frames [T, V] up to and including the first at which an endpoint rule
        fires. Returns (frames consumed, endpoint fired); after an endpoint, call
        ``finalize`` and feed the rest. ``best``: see ``segmenter.best_of``."""
        check_log_probs(log_probs)
        lp = np.ascontiguousarray(log_probs, dtype=np.float32)
        probs = np.exp(lp)  # as greedy computes
        width = lp.shape[1]

        def step(i: int) -> None:
            row = lp[i : i + 1]
            self._decoder.decode_step(row.ctypes.data, 1, width)
            self._probs.append(probs[i])
            if len(self._probs) - self._offset > self.options.look_back + PRUNE_EVERY:
                self._commit_and_prune()

        return self.clock.run(lp, step, lambda: self.decoded_anything, best)

    def _commit_and_prune(self) -> None:
        """Commit the best path's words before its last ``look_back`` frames (flashlight
        cuts just after a completed word) and drop the paths behind them."""
        best = _best(self._decoder.get_all_final_hypothesis())
        if best is None:
            return
        self._decoder.prune(self.options.look_back)
        after = self._decoder.get_all_final_hypothesis()
        cut = len(best.tokens) - len(after[0].tokens) if after else 0
        if cut <= 0:  # nothing was pruned (no word ended far enough back)
            return
        words, _ = self._words(list(best.tokens)[:cut], list(best.words)[:cut])
        self._committed.extend(words)
        self._offset += cut
        self._decoded = self._decoded or bool(words)  # their letters left the live paths

    # ---- results ----------------------------------------------------------------------

    def _words(self, tokens: list[int], word_ids: list[int]) -> tuple[tuple[Word, ...], str]:
        """Words with times and confidences from one hypothesis's path (the part after the
        committed words), and the spelling of the word it is in the middle of (``""`` if
        none). ``tokens[j]`` and ``word_ids[j]`` belong to utterance frame offset + j - 1
        (flashlight starts with a silence)."""
        out: list[Word] = []
        letters: list[tuple[int, int]] = []  # (frame, symbol) of the word being spelled
        previous = SPACE
        for j, (symbol, word_id) in enumerate(zip(tokens, word_ids, strict=True)):
            frame = self._offset + j - 1
            if symbol not in (*_SILENT, previous) and 0 <= frame < len(self._probs):
                letters.append((frame, symbol))
            previous = symbol
            if word_id >= 0 and letters:  # a word is reported at the space that ends it
                text = self._search.words.get_entry(word_id)
                start = (self._first_frame + letters[0][0]) * self.frame_seconds
                end = (self._first_frame + letters[-1][0] + 1) * self.frame_seconds
                conf = float(sum(self._probs[f][s] for f, s in letters)) / len(letters)
                out.append(Word(text, start, end, conf))
                letters = []
            elif symbol == SPACE:
                letters = []
        return tuple(out), "".join(SYMBOLS[s] for _, s in letters)

    def partial(self) -> Hypothesis:
        """The best hypothesis: its completed words, then the letters of the word it is
        spelling (a lexicon prefix, in ``text`` only, as the Python beam shows it);
        ``stable`` is the completed words every live hypothesis shares."""
        live = self._decoder.get_all_final_hypothesis()
        best = _best(live)
        committed = [w.word for w in self._committed]
        if best is None:
            text = " ".join(committed)
            words = tuple(self._committed)
            return Hypothesis(text=text, words=words, segment=self.segment, stable=text)
        words, spelling = self._words(list(best.tokens), list(best.words))
        words = (*self._committed, *words)
        text = " ".join([*(w.word for w in words), *([spelling] if spelling else [])])
        entry = self._search.words.get_entry
        shared = common_words([entry(w) for w in h.words if w >= 0] for h in live)
        stable = " ".join([*committed, *shared])
        return Hypothesis(text=text, words=words, segment=self.segment, stable=stable)

    def finalize(self, *, endpoint: bool = False) -> Hypothesis:
        """Close the utterance, return its final hypothesis (with the n best as its
        ``alternatives``), and start the next one."""
        # The utterance's last word has no space after it: one frame that is surely a space
        # completes it (hypotheses inside a word that cannot end here drop out).
        self._decoder.decode_step(_CLOSING_SPACE.ctypes.data, 1, _CLOSING_SPACE.shape[1])
        self._decoder.decode_end()
        ranked = self._nbest(self.options.beam_size)
        words = ranked[0].words if ranked else ()
        result = Hypothesis.final(words, self.clock.next_segment(), endpoint, tuple(ranked))
        self._start_utterance()
        return result

    def _nbest(self, n: int) -> list[Alternative]:
        best: dict[tuple[str, ...], tuple[float, tuple[Word, ...]]] = {}
        for result in self._decoder.get_all_final_hypothesis():
            words, _ = self._words(list(result.tokens), list(result.words))
            words = (*self._committed, *words)
            key = tuple(w.word for w in words)
            if key not in best or result.score > best[key][0]:
                best[key] = (result.score, words)
        ranked = sorted(best.values(), key=lambda sw: sw[0], reverse=True)
        if not ranked:
            return [Alternative(tuple(self._committed), 1.0)]
        top = ranked[0][0]
        mass = top + math.log(sum(math.exp(s - top) for s, _ in ranked))
        return [Alternative(words, math.exp(s - mass)) for s, words in ranked[:n]]


def _best(hypotheses: list[Any]) -> Any:
    """The highest-scoring of flashlight's hypotheses (they come unsorted); None if none."""
    return max(hypotheses, key=lambda h: h.score) if hypotheses else None
