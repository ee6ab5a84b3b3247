"""Reads PocketSphinx's trie-format language model (`en-us.lm.bin`) into n-gram tables.

PocketSphinx (PyPI `pocketsphinx`, BSD-2-Clause) ships CMU's general US-English word 3-gram
model (72,547 words; 2.05 M bigrams; 1.67 M trigrams), estimated from far more text than
this project has. Its own converter cannot write it out: `NGramModel.write(..., "arpa")`
crashes after the bigrams (cmusphinx/pocketsphinx issue 502: the file's header counts
disagree with what its trie holds), so this reads the trie itself, with numpy, following
`src/lm/lm_trie.c`, `lm_trie_quant.c` and `ngram_model_trie.c` of pocketsphinx 5.1.1.

Layout (little-endian): the text "Trie Language Model"; the order (uint8); a uint32 count
per order (the header's, which may overstate the trie); an int32 and the 16-bit
quantisation tables (float32: for each middle order a probability and a backoff table,
then the highest order's probability table); the unigrams (float32 prob, float32 backoff,
uint32 index of their first bigram; one more entry closes the last range); the bit-packed
middle and highest orders; the words, NUL-terminated. Each n-gram is stored under its
*last* word: a unigram's range holds the bigrams ending in it (an entry is the word before
it), a bigram's range the trigrams ending in it. Probabilities and backoffs are logs to
base 1.0001 (pocketsphinx's logmath default; the unigrams then sum to 1 within 2e-6, while
as natural logs or log10 they do not); `read_trie` returns log10, as ARPA writes them.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamasr.decode.lm import BOS, EOS, UNK
from streamasr.vocab import CHARS
from train.lm import NgramModel, write_arpa

_HEADER = b"Trie Language Model"
_QUANT_BITS = 16  # every quantised table has 2**16 bins
_LOG_BASE = 1.0001  # the base of the stored logs


@dataclass(frozen=True)
class NgramTable:
    """The n-grams of one order: word ids in reading order, log10 probability, log10 backoff."""

    words: np.ndarray  # [N, order] int64, indices into TrieLM.vocab
    logprob: np.ndarray  # [N] float64
    backoff: np.ndarray | None  # [N] float64; None for the highest order


@dataclass(frozen=True)
class TrieLM:
    vocab: list[str]
    orders: list[NgramTable]  # orders[0] are the unigrams


def packaged_model() -> Path:
    """The model the pocketsphinx wheel carries (the peer train.evaluate --compare runs)."""
    spec = importlib.util.find_spec("pocketsphinx")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("pocketsphinx is not installed (it is in requirements.lock)")
    return Path(spec.origin).parent / "model" / "en-us" / "en-us.lm.bin"


def _required_bits(max_value: int) -> int:
    return max_value.bit_length()


def _read_bits(mem: np.ndarray, bit_offsets: np.ndarray, length: int) -> np.ndarray:
    """Reads `length` (<= 25) bits at each bit offset, as bitarr_read_int25 does."""
    byte = bit_offsets >> 3
    word = (
        mem[byte].astype(np.uint32)
        | (mem[byte + 1].astype(np.uint32) << 8)
        | (mem[byte + 2].astype(np.uint32) << 16)
        | (mem[byte + 3].astype(np.uint32) << 24)
    )
    out: np.ndarray = (word >> (bit_offsets & 7).astype(np.uint32)) & np.uint32((1 << length) - 1)
    return out


def read_trie(path: str | Path) -> TrieLM:
    """Reads a trie-format 3-gram model; raises ValueError when the file is not one."""
    data = np.fromfile(path, dtype=np.uint8)
    raw = data.tobytes()
    if not raw.startswith(_HEADER):
        raise ValueError(f"{path}: not a PocketSphinx trie language model")
    pos = len(_HEADER)
    order = raw[pos]
    pos += 1
    if order != 3:
        raise ValueError(f"{path}: order {order}; only 3-gram models are read")
    counts = [int(c) for c in np.frombuffer(raw, "<u4", order, pos)]
    pos += 4 * order + 4  # the counts, then an unused int32
    n_tables = (order - 2) * 2 + 1
    quant = np.frombuffer(raw, "<f4", n_tables << _QUANT_BITS, pos)
    pos += quant.nbytes
    quant = quant.astype(np.float64)
    mid_prob, mid_bo, top_prob = (
        quant[i << _QUANT_BITS : (i + 1) << _QUANT_BITS] for i in range(3)
    )
    uni_dtype = np.dtype([("prob", "<f4"), ("bo", "<f4"), ("next", "<u4")])
    unigrams = np.frombuffer(raw, uni_dtype, counts[0] + 1, pos)
    pos += unigrams.nbytes

    word_bits = _required_bits(counts[0])
    next_bits = _required_bits(counts[2])
    mid_total = word_bits + 2 * _QUANT_BITS + next_bits
    top_total = word_bits + _QUANT_BITS
    mid_size = ((1 + counts[1]) * mid_total + 7) // 8 + 8
    top_size = ((1 + counts[2]) * top_total + 7) // 8 + 8
    mid_mem = data[pos : pos + mid_size]
    top_mem = data[pos + mid_size : pos + mid_size + top_size]
    pos += mid_size + top_size
    (text_len,) = np.frombuffer(raw, "<u4", 1, pos)
    vocab = raw[pos + 4 : pos + 4 + int(text_len)].decode("utf-8").split("\0")[:-1]
    if len(vocab) != counts[0]:
        raise ValueError(f"{path}: {len(vocab)} words for {counts[0]} unigrams")

    # The trie holds fewer n-grams than the header says: the closing pointers say how many.
    n_bi = int(unigrams["next"][-1])
    bi_at = np.arange(n_bi + 1, dtype=np.int64) * mid_total
    bi_prev = _read_bits(mid_mem, bi_at[:-1], word_bits).astype(np.int64)
    bi_bo = mid_bo[_read_bits(mid_mem, bi_at[:-1] + word_bits, _QUANT_BITS)]
    bi_prob = mid_prob[_read_bits(mid_mem, bi_at[:-1] + word_bits + _QUANT_BITS, _QUANT_BITS)]
    bi_next = _read_bits(mid_mem, bi_at + word_bits + 2 * _QUANT_BITS, next_bits).astype(np.int64)
    uni_next: np.ndarray = unigrams["next"].astype(np.int64)
    bi_last = np.repeat(np.arange(counts[0]), np.diff(uni_next))
    n_tri = int(bi_next[-1])
    tri_at = np.arange(n_tri, dtype=np.int64) * top_total
    tri_first = _read_bits(top_mem, tri_at, word_bits).astype(np.int64)
    tri_prob = top_prob[_read_bits(top_mem, tri_at + word_bits, _QUANT_BITS)]
    tri_of = np.repeat(np.arange(n_bi), np.diff(bi_next))

    to_log10 = math.log10(_LOG_BASE)
    return TrieLM(
        vocab=vocab,
        orders=[
            NgramTable(
                np.arange(counts[0], dtype=np.int64)[:, None],
                unigrams["prob"][:-1].astype(np.float64) * to_log10,
                unigrams["bo"][:-1].astype(np.float64) * to_log10,
            ),
            NgramTable(np.stack([bi_prev, bi_last], 1), bi_prob * to_log10, bi_bo * to_log10),
            NgramTable(
                np.stack([tri_first, bi_prev[tri_of], bi_last[tri_of]], 1),
                tri_prob * to_log10,
                None,
            ),
        ],
    )


def to_ngram_model(trie: TrieLM) -> NgramModel:
    """The model over the words the streamasr alphabet can spell (a-z and the apostrophe).

    The others (279: hyphenated words such as "air-conditioning", letters written "b.") leave
    with every n-gram that holds them; their unigram mass becomes `<unk>`'s, which the beam
    decoder charges to a spelling outside the lexicon. The bigram and trigram mass that left
    with them is not redistributed (a few contexts sum to slightly under one)."""
    spellable = frozenset(CHARS) - {" "}
    keep = np.array(
        [w in (BOS, EOS) or (bool(w) and set(w) <= spellable) for w in trie.vocab], dtype=bool
    )
    logprob: dict[tuple[str, ...], float] = {}
    backoff: dict[tuple[str, ...], float] = {}
    for table in trie.orders:
        rows = np.nonzero(keep[table.words].all(axis=1))[0]
        for i in rows:
            gram = tuple(trie.vocab[j] for j in table.words[i])
            logprob[gram] = float(table.logprob[i])
            if table.backoff is not None:  # even 0: the decoder knows contexts by it
                backoff[gram] = float(table.backoff[i])
    unigrams = trie.orders[0]
    dropped = float((10.0 ** unigrams.logprob[~keep]).sum())
    if dropped > 0.0:  # else a closed vocabulary: the decoder's floor for unknown words
        logprob[(UNK,)] = math.log10(dropped)
    return NgramModel(len(trie.orders), logprob, backoff)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m train.sphinx_lm",
        description="Write PocketSphinx's general US-English 3-gram model as an ARPA file that "
        "streamasr's beam decoder reads (--lm PATH).",
    )
    p.add_argument("--out", type=Path, required=True, help="ARPA file (.gz compresses)")
    p.add_argument("--model", type=Path, help="trie-format LM (default: pocketsphinx's own)")
    args = p.parse_args(argv)
    try:
        model = to_ngram_model(read_trie(args.model or packaged_model()))
    except (OSError, ValueError) as e:
        print(f"python -m train.sphinx_lm: error: {e}", file=sys.stderr)
        return 2
    write_arpa(model, args.out)
    counts = ", ".join(f"{n + 1}-grams={c}" for n, c in enumerate(model.counts()))
    print(f"{args.out}: {counts}, {args.out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
