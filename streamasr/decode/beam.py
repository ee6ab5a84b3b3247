"""Streaming CTC prefix beam search with an optional word n-gram LM, lexicon and phrase list.

Each call to ``advance`` runs the prefix beam search over the new frames only: the beams and
their blank / non-blank log-probabilities are carried between calls, and the work per frame
is (beams kept) x (candidate characters of that frame), so it does not grow with the stream.
A prefix is a node pointing at its parent; a node carries what scoring needs (the word being
spelled, the LM state, the phrase state, the sum of word-level scores), so extending it is
O(1) and never re-reads the text.

Word-level scores (natural logs) are added when a word ends (a space, or end of utterance):
``alpha * log p_LM(word | history) + beta`` (with an LM only: ``beta`` offsets the LM's cost
per word). With a lexicon, a spelling that leaves it pays, at that character,
``oov_penalty`` and ``alpha * log p_LM(<unk> | history)``, then ``oov_char_penalty`` per
character spelled outside it (the character fallback: unknown words stay possible, but
gluing known words into one long unknown word neither saves nor defers their LM cost);
``phrase_bonus`` per word that continues a phrase of the session's phrase list. With
``restrict`` only spellings of phrase-list words that continue a phrase survive.

Partials come from the best beam; the stable prefix is the longest run of closed words that
all beams alive share. The clock and the endpoints are ``segmenter.Segmenter``'s (trailing
frames whose best symbol is the blank), so greedy and beam decoding cut utterances at the
same frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.hypothesis import Alternative, Hypothesis
from streamasr.decode.lexicon import Lexicon, Phrase, PhraseList
from streamasr.decode.lm import UNK, NgramLM, State
from streamasr.decode.prefix import Prefix, WordLink, common_words, texts_of, words_of
from streamasr.decode.segmenter import Best, SegmentedDecoder, check_log_probs
from streamasr.vocab import BLANK, SYMBOLS

SPACE = SYMBOLS.index(" ")
_NEG_INF = -math.inf
_Closed = tuple[WordLink | None, State, Phrase, float]  # closed words, LM, phrase, score
_Proposal = tuple[float, str | _Closed]  # a child's word-level score; its spelling or _Closed


@dataclass(frozen=True)
class BeamOptions:
    beam_size: int = 8  # prefixes kept after each frame
    char_threshold: float = 5.0  # characters tried per frame: log-prob within this of the best
    max_chars: int = 6  # ... and at most this many of them
    beam_threshold: float = 10.0  # prefixes scoring this far below the best are dropped
    alpha: float = 0.5  # LM weight (on natural-log word probabilities)
    beta: float = 1.0  # word insertion bonus, per word (only with an LM)
    oov_penalty: float = 4.0  # charged once when a spelling leaves the lexicon
    oov_char_penalty: float = 1.5  # ... and for each character spelled outside it
    phrase_bonus: float = 4.0  # per word that continues a phrase of the phrase list
    restrict: bool = False  # only phrase-list phrases can be recognised

    def __post_init__(self) -> None:
        if self.beam_size < 1 or self.max_chars < 1:
            raise ValueError(
                f"beam_size and max_chars must be >= 1, got {self.beam_size}, {self.max_chars}"
            )
        for name in (
            "char_threshold",
            "beam_threshold",
            "alpha",
            "oov_penalty",
            "oov_char_penalty",
            "phrase_bonus",
        ):
            if not getattr(self, name) >= 0:
                raise ValueError(f"beam option {name} must be >= 0, got {getattr(self, name)}")


def _lae(a: float, b: float) -> float:
    """log(exp(a) + exp(b))."""
    if a < b:
        a, b = b, a
    if b == _NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


class BeamDecoder(SegmentedDecoder):
    """One stream's beam-search decoder; feed it log-probabilities [T, V] as they arrive."""

    def __init__(
        self,
        frame_seconds: float,
        endpoint: EndpointConfig | None = None,
        options: BeamOptions | None = None,
        *,
        lm: NgramLM | None = None,
        lexicon: Lexicon | None = None,
        phrases: PhraseList | None = None,
    ) -> None:
        super().__init__(frame_seconds, endpoint)
        self.options = options or BeamOptions()
        if self.options.restrict and not phrases:
            raise ValueError("restrict=True needs a non-empty phrase list")
        self.phrases = phrases if phrases else None
        restrict = self.options.restrict
        # Restricted to a phrase list, the phrases are the grammar: no LM, no lexicon.
        self.lm = None if restrict else lm
        if lexicon is not None and self.phrases is not None and not restrict:
            lexicon = lexicon.extended(self.phrases.words)
        self.lexicon = None if restrict else lexicon
        self._start_utterance()

    def _start_utterance(self) -> None:
        lm_state: State = self.lm.start() if self.lm is not None else ()
        root = Prefix(None, BLANK, "", 0, 0, (), None, lm_state, (), 0.0)
        self._beams: dict[Prefix, tuple[float, float]] = {root: (0.0, _NEG_INF)}
        self._best = root

    @property
    def decoded_anything(self) -> bool:
        return bool(self._best.word or self._best.closed)

    # ---- the search -------------------------------------------------------------------

    def advance(
        self, log_probs: npt.NDArray[np.float32], best: Best | None = None
    ) -> tuple[int, bool]:
        """Consume frames [T, V] up to and including the first at which an endpoint rule
        fires. Returns (frames consumed, endpoint fired); after an endpoint, call
        ``finalize`` and feed the rest. ``best``: see ``segmenter.best_of``."""
        check_log_probs(log_probs)
        opts = self.options
        lp = np.asarray(log_probs, dtype=np.float64)
        k = min(opts.max_chars, lp.shape[1] - 1)
        # Candidate characters per frame: the k best non-blank symbols (ties: lower id first)
        # whose log-prob is within the threshold of the frame's best symbol.
        top = np.argsort(-lp[:, 1:], axis=1, kind="stable")[:, :k] + 1
        ok = (
            np.take_along_axis(lp, top, axis=1)
            >= lp.max(axis=1, keepdims=True) - opts.char_threshold
        )
        tops = top.tolist()
        oks = ok.tolist()
        rows = lp.tolist()
        probs = np.exp(np.asarray(log_probs, dtype=np.float32)).tolist()  # as greedy computes

        def step(i: int) -> None:
            cands = [c for c, good in zip(tops[i], oks[i], strict=True) if good]
            self._step(rows[i], probs[i], cands)

        return self.clock.run(log_probs, step, lambda: self.decoded_anything, best)

    def _step(self, lp: list[float], prob: list[float], cands: list[int]) -> None:
        t = self.frames
        # A new child has one path into it, so its score is known before it exists: it is
        # proposed under the key (parent, symbol) and built only if it stays in the beam
        # (about three in ten do). Each cell: blank and non-blank log-probs, word score.
        nxt: dict[Prefix | tuple[Prefix, int], list[float]] = {}
        proposed: dict[tuple[Prefix, int], _Proposal] = {}
        edges: dict[tuple[Prefix | None, int], Prefix] = {
            (p.parent, p.symbol): p for p in self._beams
        }
        blank_lp = lp[BLANK]
        blank_or_space = _lae(blank_lp, lp[SPACE])

        def add(p: Prefix, index: int, value: float) -> None:
            cell = nxt.get(p)
            if cell is None:
                cell = nxt[p] = [_NEG_INF, _NEG_INF, p.score]
            cell[index] = _lae(cell[index], value)

        for prefix, (pb, pnb) in self._beams.items():
            total = _lae(pb, pnb)
            if prefix.word:
                add(prefix, 0, total + blank_lp)
                add(prefix, 1, pnb + lp[prefix.symbol])  # repeat collapses into the prefix
            else:
                # No word pending: a space is as good as a blank (spaces never double).
                add(prefix, 0, total + blank_or_space)
            for c in cands:
                if c == SPACE and not prefix.word:
                    continue
                value = (pb if c == prefix.symbol else total) + lp[c]
                child = edges.get((prefix, c))
                if child is not None:
                    add(child, 1, value)
                    continue
                proposal = self._propose(prefix, c)
                if proposal is not None:
                    proposed[(prefix, c)] = proposal
                    nxt[(prefix, c)] = [_NEG_INF, value, proposal[0]]

        scored = sorted(
            ((_lae(pb, pnb) + words, key) for key, (pb, pnb, words) in nxt.items()),
            key=lambda sk: sk[0],
            reverse=True,
        )
        best = scored[0][0]
        beams: dict[Prefix, tuple[float, float]] = {}
        for s, key in scored[: self.options.beam_size]:
            if s < best - self.options.beam_threshold:
                break  # sorted: the rest are further below
            pb, pnb, _ = nxt[key]
            if isinstance(key, Prefix):
                beams[key] = (pb, pnb)
            else:  # proposed this frame: built now that it stays
                parent, symbol = key
                beams[self._build(parent, symbol, t, prob[symbol], proposed[key])] = (pb, pnb)
        self._beams = beams
        self._best = next(iter(beams))
        for p in beams:  # a parent that left the beam is never extended again: let it go,
            if p.parent is not None and p.parent not in beams:  # so memory stays
                p.parent = None  # bounded by the beam, however long the stream

    def _propose(self, prefix: Prefix, symbol: int) -> _Proposal | None:
        """The word-level score of the prefix plus one symbol, and what building it needs
        (the spelling, or the closed word); None if the symbol is not allowed here."""
        if symbol == SPACE:
            closed = self._close(prefix)
            return None if closed is None else (closed[3], closed)
        word = prefix.word + SYMBOLS[symbol]
        score = prefix.score
        if self.options.restrict and self.phrases is not None:
            if word not in self.phrases.char_prefixes(prefix.phrase):
                return None
        elif self.lexicon is not None and not self.lexicon.is_prefix(word):
            score -= self.options.oov_char_penalty
            if self.lexicon.is_prefix(prefix.word):  # the spelling just left the lexicon:
                # Charge the penalty and the LM's <unk> now, not at the word's end, so that
                # gluing known words into one unknown word cannot defer their LM cost.
                score -= self.options.oov_penalty
                if self.lm is not None:
                    score += self.options.alpha * self.lm.score(prefix.lm, UNK)[0]
        return score, word

    def _build(
        self, prefix: Prefix, symbol: int, t: int, prob: float, proposal: _Proposal
    ) -> Prefix:
        score, made = proposal
        if isinstance(made, tuple):  # a space: the word it closed
            link, lm_state, phrase, _ = made
            return Prefix(prefix, SPACE, "", t, t, (), link, lm_state, phrase, score)
        start = prefix.start if prefix.word else t
        return Prefix(
            prefix,
            symbol,
            made,
            start,
            t,
            (*prefix.confs, prob),
            prefix.closed,
            prefix.lm,
            prefix.phrase,
            score,
        )

    def _close(self, prefix: Prefix) -> _Closed | None:
        """Close the pending word: (closed words, LM state, phrase state, score); None if the
        word is not allowed here. With no pending word nothing changes."""
        if not prefix.word:
            return prefix.closed, prefix.lm, prefix.phrase, prefix.score
        opts = self.options
        score = prefix.score
        lm_state = prefix.lm
        phrase = prefix.phrase
        if self.lm is not None:
            logp, lm_state = self.lm.score(prefix.lm, prefix.word)
            charged = self.lexicon is not None and not self.lexicon.is_prefix(prefix.word)
            score += opts.beta + (0.0 if charged else opts.alpha * logp)
        if self.phrases is not None:
            if opts.restrict:
                nxt = self.phrases.step(prefix.phrase, prefix.word)
                if nxt is None:
                    return None
                phrase = nxt
            else:
                phrase, matched = self.phrases.boost_step(prefix.phrase, prefix.word)
                if matched:
                    score += opts.phrase_bonus
        link = WordLink(
            prefix.word, prefix.start, prefix.end, prefix.confs, self.frame_seconds, prefix.closed
        )
        return link, lm_state, phrase, score

    # ---- results ----------------------------------------------------------------------

    def partial(self) -> Hypothesis:
        """The best prefix so far; ``stable`` is the closed words every live prefix shares."""
        best = self._best
        words = words_of(best.closed)
        text = " ".join([*(w.word for w in words), *([best.word] if best.word else [])])
        stable = " ".join(common_words(texts_of(p.closed) for p in self._beams))
        return Hypothesis(text=text, words=tuple(words), segment=self.segment, stable=stable)

    def finalize(self, *, endpoint: bool = False) -> Hypothesis:
        """Close the utterance, return its final hypothesis (with the n best as its
        ``alternatives``), and start the next one."""
        ranked = self.nbest(self.options.beam_size)
        words = ranked[0].words if ranked else ()
        result = Hypothesis.final(words, self.clock.next_segment(), endpoint, tuple(ranked))
        self._start_utterance()
        return result

    def nbest(self, n: int) -> list[Alternative]:
        """The ``n`` best finals of the utterance so far, best first, one per distinct text;
        each one's confidence is its share of the probability of every final the beam holds
        (prefixes that end in the same words count once, at their best). Changes nothing."""
        best: dict[tuple[str, ...], tuple[float, WordLink | None]] = {}
        restricted = self.phrases is not None and self.options.restrict
        for prefix, (pb, pnb) in self._beams.items():
            closed = self._close(prefix)
            if closed is None:
                continue
            link, lm_state, phrase, score = closed
            if restricted and self.phrases is not None and not self.phrases.can_end(phrase):
                continue
            if self.lm is not None:
                score += self.options.alpha * self.lm.end(lm_state)
            total = _lae(pb, pnb) + score
            key = tuple(texts_of(link))
            if key not in best or total > best[key][0]:
                best[key] = (total, link)
        ranked = sorted(best.values(), key=lambda tl: tl[0], reverse=True)
        if not ranked:
            return []
        mass = ranked[0][0] + math.log(sum(math.exp(t - ranked[0][0]) for t, _ in ranked))
        return [
            Alternative(tuple(words_of(link)), math.exp(total - mass))
            for total, link in ranked[: max(n, 0)]
        ]
