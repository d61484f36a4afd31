"""Fingerprints: an exact hash of normalised text, and MinHash signatures with banded LSH.

The MinHash is datasketch's (2.x, ``affine32`` scheme: a MurmurHash3 finaliser, then
``a*h + b`` modulo 2^32 with odd ``a``, permutations drawn from ``RandomState(seed)``),
vectorised over many documents at once. Given the same shingle hashes it produces the
same signatures as ``datasketch.MinHash`` bit for bit (tested), and the banding finds the
same candidate pairs as ``MinHashLSH.query`` followed by ``insert``.

Shingles are word n-grams; a shingle's hash is computed from its words' CRC32 values
with a polynomial roll in numpy, so hashing costs one dictionary look-up per word
rather than one SHA-1 per shingle. ``shingle_hash`` gives the same value for one shingle
in pure Python (it is the ``hashfunc`` that makes datasketch agree with this module).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

_WORD = re.compile(r"\w+", re.U)
_MASK32 = np.uint64(0xFFFFFFFF)
_ROLL = np.uint64(0x01000193)  # FNV prime: odd, so the roll keeps every word's bits
_FMIX = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


def normalize(text: str) -> str:
    """Lower-case words only: the text that the exact fingerprint and shingles see."""
    return " ".join(_WORD.findall(text.lower()))


def exact_hash(text: str) -> str:
    """Hash of the normalised text: equal for copies that differ only in case, space, punctuation."""
    return hashlib.blake2b(
        normalize(text).encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()


class WordHasher:
    """CRC32 of each distinct word, computed once and remembered."""

    def __init__(self) -> None:
        self.table: dict[str, int] = {}

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        table = self.table
        for w in set(words).difference(table):
            table[w] = zlib.crc32(w.encode("utf-8", "surrogatepass"))
        return np.fromiter(map(table.__getitem__, words), dtype=np.uint64, count=len(words))


def shingle_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """The distinct uint32 hashes of a document's word n-grams (the whole text if shorter)."""
    m = len(word_hashes)
    if m == 0:
        return np.zeros(0, dtype=np.uint32)
    k = min(n, m)
    count = m - k + 1
    h = np.zeros(count, dtype=np.uint64)
    for j in range(k):
        h = ((h * _ROLL) + word_hashes[j : j + count]) & _MASK32
    return np.unique(h.astype(np.uint32))


def shingle_hash(words: Sequence[str]) -> int:
    """One shingle's hash, in pure Python: equal to ``shingle_hashes`` for the same words."""
    h = 0
    for w in words:
        h = (h * 0x01000193 + zlib.crc32(w.encode("utf-8", "surrogatepass"))) & 0xFFFFFFFF
    return h


@lru_cache(maxsize=8)
def permutations(num_perm: int = 128, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (odd ``a``, any ``b``)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


def minhash_signatures(
    shingle_sets: Sequence[np.ndarray], num_perm: int = 128, seed: int = 1, chunk: int = 8192
) -> np.ndarray:
    """MinHash signatures (uint32, one row per document) of many shingle-hash sets at once.

    An empty set gets the all-max signature, as an empty ``datasketch.MinHash`` has.
    ``chunk`` shingles go through the permutations at a time: the (chunk x num_perm)
    temporaries stay in cache (8192 measured ~5x faster than 200,000 here, same results).
    """
    a, b = permutations(num_perm, seed)
    out = np.full((len(shingle_sets), num_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    sizes = np.array([len(s) for s in shingle_sets], dtype=np.int64)
    docs = np.flatnonzero(sizes)
    start = 0
    with np.errstate(over="ignore"):
        while start < len(docs):
            # Take as many documents as fit in one chunk of shingles (at least one).
            stop, total = start, 0
            while stop < len(docs) and (total == 0 or total + sizes[docs[stop]] <= chunk):
                total += int(sizes[docs[stop]])
                stop += 1
            batch = docs[start:stop]
            hv = _fmix32(np.concatenate([shingle_sets[i] for i in batch]).astype(np.uint32))
            phv = hv[:, None] * a[None, :] + b[None, :]
            offsets = np.concatenate([[0], np.cumsum(sizes[batch])[:-1]])
            out[batch] = np.minimum.reduceat(phv, offsets, axis=0)
            start = stop
    return out


def _fp(threshold: float, b: int, r: int) -> float:
    s = np.linspace(0.0, threshold, 201)
    return float(np.trapezoid(1 - (1 - s**r) ** b, s))


def _fn(threshold: float, b: int, r: int) -> float:
    s = np.linspace(threshold, 1.0, 201)
    return float(np.trapezoid((1 - s**r) ** b, s))


@lru_cache(maxsize=32)
def optimal_bands(threshold: float, num_perm: int = 128, fp_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising weighted false positive and negative probability (as datasketch)."""
    best, opt = float("inf"), (1, num_perm)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            err = fp_weight * _fp(threshold, b, r) + (1 - fp_weight) * _fn(threshold, b, r)
            if err < best:
                best, opt = err, (b, r)
    return opt


def lsh_pairs(
    signatures: np.ndarray, bands: int, rows: int, new_from: int = 0
) -> set[tuple[int, int]]:
    """Row pairs (i < j) that agree on every value of at least one band.

    With ``new_from`` set, only pairs that involve a row at or after it are returned
    (the incremental case: new documents against everything stored).
    """
    n = signatures.shape[0]
    pairs: set[tuple[int, int]] = set()
    if n < 2:
        return pairs
    for band in range(bands):
        block = np.ascontiguousarray(signatures[:, band * rows : (band + 1) * rows])
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        boundaries = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
        for group in np.split(order, boundaries):
            if len(group) < 2:
                continue
            members = np.sort(group)
            if new_from and members[-1] < new_from:
                continue
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    i, j = int(members[x]), int(members[y])
                    if j >= new_from:
                        pairs.add((i, j))
    return pairs


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


class Fingerprinter:
    """Shingles and signatures for many texts, with one word-hash table shared across calls."""

    def __init__(self, shingle_size: int = 5, num_perm: int = 128, seed: int = 1) -> None:
        self.shingle_size = shingle_size
        self.num_perm = num_perm
        self.seed = seed
        self.words = WordHasher()

    def shingles(self, text: str) -> np.ndarray:
        return shingle_hashes(self.words(_WORD.findall(text.lower())), self.shingle_size)

    def signatures(self, texts: Iterable[str]) -> np.ndarray:
        return minhash_signatures([self.shingles(t) for t in texts], self.num_perm, self.seed)
