"""A word n-gram language model from the normalised training text: interpolated modified
Kneser-Ney (Chen & Goodman 1998, as KenLM's lmplz estimates it), pruned, written as ARPA.

Why our own: no well-kept LM estimator installs here (the `kenlm` PyPI module only queries
models; `lmplz` is not packaged), and the estimate is a page of counting.

``python -m train.lm [--text FILE] [--out streamasr/assets/lm.arpa.gz]`` builds the bundled
LM (``python -m bench.decode`` measures the decoders with it).

Definitions (those the tests check by hand):
- Each sentence is ``<s> w1 .. wn </s>``.
- Adjusted counts: the highest order keeps raw counts; a lower-order n-gram counts its
  distinct left extensions, except n-grams that start with ``<s>`` (which have none), whose
  count stays raw.
- Discounts per order from the count-of-counts t1..t4 of the adjusted counts:
  Y = t1 / (t1 + 2 t2), D1 = 1 - 2Y t2/t1, D2 = 2 - 3Y t3/t2, D3+ = 3 - 4Y t4/t3.
- p(w|h) = (a(hw) - D(a(hw))) / a(h.) + gamma(h) p(w|h'), with
  gamma(h) = (D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)) / a(h.); unigrams interpolate with the
  uniform distribution over the vocabulary (every word but ``<s>``, plus ``<unk>``).
- Pruning drops n-grams (order >= 2) with raw count below a cutoff, keeps those that are the
  context of a kept longer n-gram, and renormalises each context's backoff weight
  bo(h) = (1 - sum_kept p(w|h)) / (1 - sum_kept p_backoff(w|h')).  Unpruned, bo(h) = gamma(h).
"""

from __future__ import annotations

import argparse
import gzip
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from train.corpus.manifest import read_manifest
from train.corpus.normalize import modern_compounds
from train.modern_words import modern_unigrams, oov_rate

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
DEFAULT_TEXT = Path("data/corpus/sentences-seed0.txt")
DEFAULT_OUT = Path("streamasr/assets/lm.arpa.gz")
# Validation sentences are drawn from the same text file (its first 600 lines, see
# train/corpus/synth.py): their texts are left out, or the LM would know the answers.
DEFAULT_EXCLUDE = (
    Path("data/corpus/valid_heldout_voices.jsonl"),
    Path("data/corpus/valid_seen_voices.jsonl"),
)
ORDER = 3
# Raw-count cutoffs per order (index = order): n-grams seen fewer times are pruned.
DEFAULT_CUTOFFS = (0, 1, 1, 2)
# The most frequent modern English words (train/modern_words.py) mixed into the unigrams with
# this weight: common words the corpus text lacks join the lexicon with a modern frequency.
MODERN_WORDS = 20_000
MODERN_WEIGHT = 0.2

Gram = tuple[str, ...]


@dataclass(frozen=True)
class Discounts:
    d1: float
    d2: float
    d3: float  # for counts of 3 and more

    def of(self, count: int) -> float:
        return 0.0 if count == 0 else self.d1 if count == 1 else self.d2 if count == 2 else self.d3


@dataclass(frozen=True)
class NgramModel:
    order: int
    logprob: dict[Gram, float]  # log10 p(w|h) for every kept n-gram h+w
    backoff: dict[Gram, float]  # log10 backoff weight of every n-gram that is a context

    def counts(self) -> list[int]:
        """Number of n-grams of each order 1..order."""
        out = [0] * self.order
        for g in self.logprob:
            out[len(g) - 1] += 1
        return out


def count_ngrams(sentences: Iterable[str], order: int) -> list[Counter[Gram]]:
    """Raw counts of orders 1..order (index 0 holds order 1)."""
    counts: list[Counter[Gram]] = [Counter() for _ in range(order)]
    for sentence in sentences:
        tokens = (BOS, *sentence.split(), EOS)
        for n in range(1, order + 1):
            c = counts[n - 1]
            for i in range(len(tokens) - n + 1):
                c[tokens[i : i + n]] += 1
    return counts


def adjusted_counts(raw: Sequence[Counter[Gram]]) -> list[dict[Gram, int]]:
    """Kneser-Ney adjusted counts: continuation counts below the highest order."""
    order = len(raw)
    adjusted: list[dict[Gram, int]] = [dict() for _ in range(order)]
    adjusted[-1] = dict(raw[-1])
    for n in range(order - 1, 0, -1):  # n = length of the lower order being filled
        left: Counter[Gram] = Counter()
        for g in raw[n]:  # n-grams of length n + 1
            left[g[1:]] += 1
        adj = adjusted[n - 1]
        for g, c in raw[n - 1].items():
            adj[g] = c if g[0] == BOS else left.get(g, 0)
    return adjusted


def discounts(adjusted: Mapping[Gram, int]) -> Discounts:
    """Modified Kneser-Ney discounts from the count-of-counts of one order."""
    t = Counter(c for c in adjusted.values() if c <= 4)
    t1, t2, t3, t4 = (t.get(i, 0) for i in (1, 2, 3, 4))
    if min(t1, t2, t3) == 0:
        raise ValueError(
            "too little text to estimate Kneser-Ney discounts"
            f" (count-of-counts {t1},{t2},{t3},{t4})"
        )
    y = t1 / (t1 + 2 * t2)
    d = Discounts(1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
    for value in (d.d1, d.d2, d.d3):
        if not 0 <= value < 4:
            raise ValueError(f"Kneser-Ney discount {value} out of range: text too small or odd")
    return d


FALLBACK_DISCOUNTS = Discounts(0.5, 1.0, 1.5)


def _discounts_or_fallback(adjusted: Mapping[Gram, int]) -> Discounts:
    try:
        return discounts(adjusted)
    except ValueError:
        return FALLBACK_DISCOUNTS


def interpolated_kn(
    raw: Sequence[Counter[Gram]], fixed: Sequence[Discounts] | None = None
) -> tuple[list[dict[Gram, float]], list[dict[Gram, float]]]:
    """Interpolated modified KN: (probabilities per order, gamma per context per order).

    Probabilities are natural, not log. ``fixed`` overrides the estimated discounts; an
    order whose count-of-counts cannot give discounts (a tiny vocabulary) uses
    ``FALLBACK_DISCOUNTS``, as lmplz --discount_fallback does.
    """
    order = len(raw)
    adjusted = adjusted_counts(raw)
    ds = list(fixed) if fixed is not None else [_discounts_or_fallback(a) for a in adjusted]
    probs: list[dict[Gram, float]] = []
    gammas: list[dict[Gram, float]] = []
    vocab = [g for g in adjusted[0] if g != (BOS,)]
    for n in range(1, order + 1):
        adj = adjusted[n - 1]
        d = ds[n - 1]
        total: dict[Gram, float] = defaultdict(float)
        fanout: dict[Gram, list[int]] = defaultdict(lambda: [0, 0, 0])
        for g, c in adj.items():
            if g == (BOS,):
                continue
            h = g[:-1]
            total[h] += c
            fanout[h][min(c, 3) - 1] += 1 if c > 0 else 0
        gamma = {h: (d.d1 * f[0] + d.d2 * f[1] + d.d3 * f[2]) / total[h] for h, f in fanout.items()}
        p: dict[Gram, float] = {}
        if n == 1:
            uniform = gamma[()] / (len(vocab) + 1)  # + <unk>
            for g in vocab:
                p[g] = (adj[g] - d.of(adj[g])) / total[()] + uniform
            p[(UNK,)] = uniform
        else:
            lower = probs[-1]
            for g, c in adj.items():
                h = g[:-1]
                p[g] = (c - d.of(c)) / total[h] + gamma[h] * lower[g[1:]]
        probs.append(p)
        gammas.append(gamma)
    return probs, gammas


def prune(
    probs: Sequence[Mapping[Gram, float]],
    raw: Sequence[Counter[Gram]],
    cutoffs: Sequence[int] = DEFAULT_CUTOFFS,
) -> NgramModel:
    """Keep n-grams with raw count >= cutoff (and every context of a kept n-gram); recompute
    backoff weights so each context's distribution sums to one. Returns log10 values."""
    order = len(probs)
    keep: list[set[Gram]] = [set() for _ in range(order)]
    keep[0] = set(probs[0])
    for n in range(order, 1, -1):
        cutoff = cutoffs[n] if n < len(cutoffs) else cutoffs[-1]
        for g in probs[n - 1]:
            if raw[n - 1][g] >= cutoff or g in keep[n - 1]:
                keep[n - 1].add(g)
                keep[n - 2].add(g[:-1])  # its context must exist (already true for n-1 >= 1)
    logprob: dict[Gram, float] = {}
    backoff: dict[Gram, float] = {}
    for g in keep[0]:
        p = probs[0].get(g, 0.0)  # <s> is never predicted
        logprob[g] = math.log10(p) if p > 0 else -99.0
    # Natural-probability lookups through the pruned model, order by order.
    bo_nat: dict[Gram, float] = {}

    def backoff_prob(h: Gram, w: str) -> float:
        """p(w|h) in the pruned model so far (orders up to len(h) + 1 complete)."""
        weight = 1.0
        while True:
            g = (*h, w)
            if g in logprob:
                return weight * 10 ** logprob[g]
            if not h:
                return weight * 10 ** logprob[(UNK,)]
            weight *= bo_nat.get(h, 1.0)
            h = h[1:]

    for n in range(2, order + 1):
        by_context: dict[Gram, list[Gram]] = defaultdict(list)
        for g in keep[n - 1]:
            by_context[g[:-1]].append(g)
        for h, grams in by_context.items():
            kept = sum(probs[n - 1][g] for g in grams)
            lower = sum(backoff_prob(h[1:], g[-1]) for g in grams)
            bo = max(1e-12, 1.0 - kept) / max(1e-12, 1.0 - lower)
            bo_nat[h] = bo
            backoff[h] = math.log10(bo)
        for g in keep[n - 1]:
            logprob[g] = math.log10(probs[n - 1][g])
    return NgramModel(order, logprob, backoff)


def mix_unigrams(
    unigrams: Mapping[Gram, float], prior: Mapping[str, float], weight: float
) -> dict[Gram, float]:
    """(1 - weight) p_text(w) + weight p_prior(w) over the union of both vocabularies.

    Words only the prior knows join the vocabulary (and so the decoder's lexicon); `<unk>`
    keeps its text-side share. Both inputs sum to one, so the mix does too."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"unigram prior weight must be in [0, 1), got {weight}")
    mixed = {g: (1.0 - weight) * p for g, p in unigrams.items()}
    for word, p in prior.items():
        g = (word,)
        mixed[g] = mixed.get(g, 0.0) + weight * p
    return mixed


def estimate(
    sentences: Iterable[str],
    order: int = ORDER,
    cutoffs: Sequence[int] = DEFAULT_CUTOFFS,
    fixed: Sequence[Discounts] | None = None,
    unigram_prior: Mapping[str, float] | None = None,
    prior_weight: float = 0.0,
) -> NgramModel:
    """The pruned model; `unigram_prior` (word -> probability) is mixed into its unigrams with
    `prior_weight` before pruning, so the backoff weights are computed against the mix."""
    raw = count_ngrams(sentences, order)
    probs, _ = interpolated_kn(raw, fixed)
    if unigram_prior:
        probs[0] = mix_unigrams(probs[0], unigram_prior, prior_weight)
    return prune(probs, raw, cutoffs)


def write_arpa(model: NgramModel, path: Path) -> None:
    """ARPA text (tab-separated, as KenLM and SRILM read it); gzipped when the name ends .gz."""
    by_order: list[list[Gram]] = [[] for _ in range(model.order)]
    for g in model.logprob:
        by_order[len(g) - 1].append(g)
    lines = ["", "\\data\\"]
    lines += [f"ngram {n + 1}={len(gs)}" for n, gs in enumerate(by_order)]
    for n, grams in enumerate(by_order):
        lines += ["", f"\\{n + 1}-grams:"]
        for g in sorted(grams):
            p = f"{model.logprob[g]:.6g}\t{' '.join(g)}"
            bo = model.backoff.get(g)
            lines.append(p if bo is None else f"{p}\t{bo:.6g}")
    lines += ["", "\\end\\", ""]
    text = "\n".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":  # mtime 0: the same model gives the same bytes
        with path.open("wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as f:
            f.write(text.encode("utf-8"))
    else:
        path.write_text(text, encoding="utf-8")


def build_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="train.lm", description="Build the word 3-gram ARPA LM.")
    p.add_argument("--text", type=Path, default=DEFAULT_TEXT, help="normalised sentences")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="ARPA file (.gz compresses)")
    p.add_argument("--order", type=int, default=ORDER)
    p.add_argument(
        "--cutoffs", default=",".join(map(str, DEFAULT_CUTOFFS[2:])), help="min counts, order 2.."
    )
    p.add_argument(
        "--exclude",
        type=Path,
        nargs="*",
        default=list(DEFAULT_EXCLUDE),
        help="manifests whose texts are left out (default: the validation manifests)",
    )
    p.add_argument(
        "--modern-words",
        type=int,
        default=MODERN_WORDS,
        help=f"frequent modern words (wordfreq) mixed into the unigrams (default {MODERN_WORDS})",
    )
    p.add_argument(
        "--modern-weight",
        type=float,
        default=MODERN_WEIGHT,
        help=f"their share of the unigram distribution (default {MODERN_WEIGHT})",
    )
    p.add_argument(
        "--report-oov",
        type=Path,
        nargs="*",
        default=[],
        help="manifests whose out-of-vocabulary rate to print, before and after the modern words",
    )
    args = p.parse_args(argv)
    if not 0.0 <= args.modern_weight < 1.0 or args.modern_words < 0:
        p.error("--modern-weight must be in [0, 1) and --modern-words >= 0")
    cutoffs = (0, 1, *(int(c) for c in args.cutoffs.split(",")))
    banned: set[str] = set()
    for manifest in args.exclude:
        if not manifest.is_file():
            print(f"train.lm: error: no such manifest to exclude: {manifest}", file=sys.stderr)
            return 2
        banned.update(modern_compounds(r.text) for r in read_manifest(manifest))
    # Both sides through the current spelling rules, so that a corpus generated before a
    # rule changed still yields the LM the code describes, with its validation text left out.
    lines = [
        modern_compounds(s.strip()) for s in args.text.read_text(encoding="utf-8").splitlines()
    ]
    sentences = [s for s in lines if s and s not in banned]
    print(f"{len(sentences)} sentences ({len(lines) - len(sentences)} left out)")
    prior = modern_unigrams(args.modern_words)
    model = estimate(sentences, args.order, cutoffs, None, prior, args.modern_weight)
    text_vocab = {w for s in sentences for w in s.split()}
    lm_vocab = {g[0] for g in model.logprob if len(g) == 1}
    for manifest in args.report_oov:
        texts = [r.text for r in read_manifest(manifest)]
        before, n = oov_rate(text_vocab, texts)
        after, _ = oov_rate(lm_vocab, texts)
        print(
            f"OOV {manifest}: {before:.2%} with the text's words, {after:.2%} with the LM's ({n})"
        )
    write_arpa(model, args.out)
    counts = ", ".join(f"{n + 1}-grams={c}" for n, c in enumerate(model.counts()))
    print(f"{args.out}: {counts}, {args.out.stat().st_size / 1e6:.2f} MB")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return build_main(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
