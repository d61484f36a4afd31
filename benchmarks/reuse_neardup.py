r"""Near-duplicate stage throughput and quality: storyline's MinHash + LSH vs the datasketch loop.

The script invents N distinct synthetic news articles (150-400 words each) from
``random.Random(seed)`` and plants copies with recorded truth: 5% near duplicates (a copy
of an earlier article with 1-3 small edits: a changed number, a dropped or an added
sentence) and 5% word-swapped rewrites (a copy with 15-25% of its words replaced by
synonyms from an invented synonym table). It then finds candidate pairs three ways, each in
a fresh subprocess that reads the corpus from a temporary JSONL file:

* ``storyline``: ``Fingerprinter(5, 128).signatures(texts)`` (numpy shingle hashing, then
  rensa's MinHash) and ``lsh_pairs`` with ``optimal_bands(0.5, 128)``; tokenising and
  shingling are included in the time;
* ``datasketch``: the plain loop users write, with the cheapest hash datasketch can be given:
  one ``MinHash(hashfunc=shingle_hash)`` per article (a CRC32 roll of the shingle's words,
  the hash storyline used when its signatures were datasketch's bit for bit),
  ``MinHashLSH.query`` then ``insert``;
* ``datasketch-sha1``: the same loop with datasketch's default SHA-1 of the shingle text.

Quality is measured against exact Jaccard: in another subprocess the word 5-gram sets
(regex ``\w+`` words, as ``normalize`` sees them) of every pair of articles are compared
exactly (a sparse product), and the pairs with Jaccard >= the threshold are the truth.
Each method's candidate pairs get a precision (share of candidates at or above the
threshold) and a recall (share of the truth among the candidates); the planted near
duplicates and rewrites get a recall too. The same is done on DUC 2003 (``--duc``, all its
documents; skipped when the folder is absent).

Reported per corpus size: wall seconds, articles per second, the speedup of storyline's
stage over each loop, the quality figures, the number of candidate pairs, and the peak
resident memory (``ru_maxrss`` of the subprocess: it includes the interpreter, numpy,
datasketch and the corpus texts; the memory after loading the texts is reported too). For
storyline it also splits the time into signatures and ``lsh_pairs``, and the signatures
into shingling (numpy) and the MinHash (rensa).

Word 5-gram shingles at an LSH threshold of 0.5 are for near duplicates: a rewrite that
swaps a fifth of the words keeps about a third of its 5-grams (Jaccard near 0.2), so most
rewrites are expected to be missed here; storyline finds those through its rewrite index.

Run it from the repository root (the default takes several minutes on two cores)::

    .venv/bin/python benchmarks/reuse_neardup.py
    .venv/bin/python benchmarks/reuse_neardup.py --sizes 2000,10000 --json
    .venv/bin/python benchmarks/reuse_neardup.py --sizes 100000 --methods storyline,datasketch

The corpus generator (``generate_corpus``, ``sentence``, ``rewrite``) is reused by
``benchmarks/reuse_align.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHINGLE = 5
NUM_PERM = 128
THRESHOLD = 0.5
NEAR_SHARE = 0.05
REWRITE_SHARE = 0.05
METHODS = ("storyline", "datasketch", "datasketch-sha1")
EXACT_MAX = 30_000  # exact Jaccard over all pairs above this size would take too long
DUC = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "duc2003"


def shingle_hash(words: Sequence[str]) -> int:
    """One shingle's 32-bit hash: a CRC32 roll of its words (datasketch's ``hashfunc``)."""
    h = 0
    for w in words:
        h = (h * 0x01000193 + zlib.crc32(w.encode("utf-8", "surrogatepass"))) & 0xFFFFFFFF
    return h


# -- invented vocabulary -------------------------------------------------------------------

# Synonym groups: every word in a group may stand for any other (a spinner's thesaurus).
SYNONYM_GROUPS: dict[str, list[list[str]]] = {
    "verb": [
        ["approved", "endorsed", "backed", "sanctioned", "ratified"],
        ["rejected", "refused", "dismissed", "spurned", "declined"],
        ["announced", "declared", "unveiled", "proclaimed"],
        ["postponed", "delayed", "deferred", "shelved"],
        ["criticised", "condemned", "faulted", "denounced", "attacked"],
        ["increased", "raised", "boosted", "lifted", "hiked"],
        ["reduced", "cut", "lowered", "trimmed", "slashed"],
        ["started", "began", "launched", "initiated", "opened"],
        ["ended", "finished", "concluded", "completed", "closed"],
        ["warned", "cautioned", "alerted"],
        ["expected", "anticipated", "predicted", "forecast"],
        ["bought", "purchased", "acquired"],
        ["built", "constructed", "erected"],
        ["helped", "aided", "assisted", "supported"],
        ["asked", "requested", "urged", "pressed"],
        ["showed", "demonstrated", "indicated", "revealed"],
        ["reviewed", "examined", "studied", "assessed", "inspected"],
        ["blamed", "accused", "faulted"],
        ["promised", "pledged", "vowed"],
        ["changed", "altered", "modified", "revised"],
    ],
    "say": [
        ["said", "stated", "noted", "remarked", "explained"],
        ["added", "continued", "went on"],
        ["argued", "claimed", "contended", "insisted"],
    ],
    "noun": [
        ["plan", "proposal", "scheme", "strategy"],
        ["project", "initiative", "programme", "venture"],
        ["company", "firm", "business", "enterprise"],
        ["problem", "issue", "difficulty", "concern"],
        ["meeting", "session", "gathering", "assembly"],
        ["report", "study", "review", "analysis", "survey"],
        ["town", "city", "municipality", "borough"],
        ["road", "street", "highway", "route"],
        ["building", "structure", "facility", "complex"],
        ["decision", "ruling", "verdict", "judgement"],
        ["increase", "rise", "jump", "surge"],
        ["drop", "decline", "fall", "slump"],
        ["goal", "aim", "target", "objective"],
        ["leader", "head", "director", "boss"],
        ["deal", "agreement", "accord", "pact"],
        ["investigation", "inquiry", "probe", "examination"],
        ["shortage", "scarcity", "lack", "deficit"],
        ["budget", "allocation", "spending"],
        ["damage", "destruction", "harm"],
        ["fire", "blaze", "inferno"],
        ["storm", "gale", "tempest"],
        ["vote", "ballot", "poll"],
        ["cost", "price", "expense", "charge"],
        ["law", "statute", "act", "measure"],
        ["area", "district", "region", "zone"],
    ],
    "plural": [
        ["officials", "authorities", "administrators"],
        ["residents", "locals", "inhabitants", "citizens"],
        ["workers", "employees", "staff", "labourers"],
        ["rules", "regulations", "guidelines", "provisions"],
        ["talks", "negotiations", "discussions"],
        ["people", "individuals", "persons"],
        ["children", "kids", "youngsters", "pupils"],
        ["funds", "money", "cash", "resources"],
        ["critics", "opponents", "detractors", "sceptics"],
        ["experts", "specialists", "analysts", "observers"],
        ["homes", "houses", "dwellings", "households"],
        ["jobs", "posts", "positions", "roles"],
    ],
    "adj": [
        ["big", "large", "huge", "massive", "vast"],
        ["small", "minor", "modest", "slight"],
        ["new", "fresh", "novel", "recent"],
        ["important", "significant", "major", "key", "crucial"],
        ["quick", "rapid", "swift", "speedy"],
        ["difficult", "hard", "tough", "challenging"],
        ["serious", "grave", "severe", "acute"],
        ["local", "regional", "municipal", "provincial"],
        ["angry", "furious", "irate", "upset"],
        ["pleased", "glad", "delighted", "satisfied"],
        ["clear", "obvious", "evident", "plain"],
        ["strong", "robust", "sturdy", "powerful"],
        ["weak", "fragile", "frail", "feeble"],
        ["expensive", "costly", "pricey", "dear"],
        ["cheap", "inexpensive", "affordable", "economical"],
        ["main", "primary", "principal", "central"],
        ["controversial", "contentious", "disputed", "divisive"],
        ["unusual", "rare", "uncommon", "atypical"],
    ],
    "adv": [
        ["quickly", "rapidly", "swiftly", "promptly"],
        ["recently", "lately", "newly"],
        ["mostly", "largely", "mainly", "chiefly"],
        ["nearly", "almost", "roughly", "approximately"],
        ["however", "nevertheless", "nonetheless", "still"],
        ["finally", "eventually", "ultimately"],
        ["currently", "presently", "now"],
        ["sharply", "steeply", "dramatically"],
        ["publicly", "openly"],
    ],
}
# Real topic nouns without synonyms (topics, not spin): they keep rewrites recognisable.
TOPICS = (
    "harbour bridge ferry library clinic school museum market quarry canal airport railway "
    "tunnel pier lighthouse reservoir stadium theatre hospital prison barracks orchard vineyard "
    "brewery mill foundry shipyard refinery pipeline turbine dam levee seawall tramline depot "
    "garage warehouse bakery pharmacy cinema gallery cathedral chapel cemetery park garden "
    "playground pool gym courthouse embassy consulate station terminal motorway roundabout "
    "footbridge viaduct aqueduct landfill incinerator substation mast antenna satellite "
    "laboratory observatory archive census tariff levy subsidy pension mortgage lease tenancy "
    "zoning curfew quarantine vaccine harvest drought flood landslide wildfire heatwave blizzard "
    "earthquake tsunami outbreak strike boycott protest rally petition referendum election "
    "coalition cabinet parliament senate council tribunal ombudsman regulator auditor treasury "
    "mint bank exchange bond dividend merger takeover bankruptcy audit fraud bribery smuggling "
    "poaching logging mining fishing farming dairy poultry grain timber copper nickel lithium "
    "cobalt uranium coal gas oil solar wind hydrogen battery charger scooter bicycle tram bus "
    "taxi lorry barge tanker trawler yacht glider drone helicopter ambulance"
).split()
ROLES = (
    "mayor councillor spokesperson minister senator governor treasurer engineer economist "
    "historian lawyer judge prosecutor inspector surveyor architect planner nurse surgeon "
    "teacher principal professor researcher farmer fisher trader banker broker landlord tenant "
    "activist organiser campaigner chairman chairwoman secretary commissioner ambassador captain"
).split()
MONTHS = (
    "January February March April May June July August September October November December"
).split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_ONSETS = (
    "b br c ch cl d dr f fl g gr h j k kl l m n p pl pr qu r s sh sl st t th tr v w wr z"
).split()
_VOWELS = "a e i o u ai ea ie ou oa".split()
_CODAS = ["", "", "n", "r", "l", "s", "t", "nd", "rn", "st", "ck", "m", "x", "ld", "rk"]
_PLACE_ENDS = [
    "ton", "by", "field", "mere", "combe", "vale", "haven", "ford", "wick", "stead", "marsh",
    "bridge", "port", "dale", "holm", "bury", "ley", "worth", "minster",
]  # fmt: skip


def _invent(rng: random.Random, syllables: int) -> str:
    return "".join(
        rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
    )


@dataclass
class Vocabulary:
    """Word pools for the sentence templates, and the synonym table for rewrites."""

    pools: dict[str, list[str]]
    synonyms: dict[str, list[str]]
    jargon_synonyms: dict[str, list[str]] = field(default_factory=dict)


def build_vocabulary(seed: int = 0) -> Vocabulary:
    """A few thousand words: real synonym groups, invented jargon, names and places."""
    rng = random.Random(seed * 7919 + 17)
    pools: dict[str, list[str]] = {}
    synonyms: dict[str, list[str]] = {}
    for kind, groups in SYNONYM_GROUPS.items():
        pools[kind] = [w for g in groups for w in g]
        for g in groups:
            for w in g:
                synonyms.setdefault(w, []).extend(x for x in g if x != w)
    seen: set[str] = set(synonyms) | set(TOPICS) | {r.lower() for r in ROLES}
    # Invented jargon (product names, local terms), each with one or two invented synonyms.
    jargon: list[str] = []
    jargon_syn: dict[str, list[str]] = {}
    while len(jargon) < 2400:
        group = []
        for _ in range(rng.choice((2, 2, 3))):
            w = _invent(rng, rng.choice((2, 2, 3)))
            if w not in seen and len(w) > 3:
                seen.add(w)
                group.append(w)
        if len(group) >= 2:
            jargon.extend(group)
            for w in group:
                jargon_syn[w] = [x for x in group if x != w]
    synonyms.update(jargon_syn)
    pools["jargon"] = jargon
    pools["topic"] = list(TOPICS)
    pools["role"] = list(ROLES)
    firsts: set[str] = set()
    while len(firsts) < 400:
        firsts.add(_invent(rng, rng.choice((1, 2))).capitalize())
    lasts: set[str] = set()
    while len(lasts) < 900:
        lasts.add(_invent(rng, rng.choice((2, 2, 3))).capitalize())
    places: set[str] = set()
    while len(places) < 900:
        places.add(_invent(rng, rng.choice((1, 2))).capitalize() + rng.choice(_PLACE_ENDS))
    pools["first"] = sorted(firsts)
    pools["last"] = sorted(lasts)
    pools["place"] = sorted(places)
    return Vocabulary(pools, synonyms, jargon_syn)


# Sentence templates: {kind} draws from a pool; {num}/{pct}/{money}/{year} are numbers.
TEMPLATES = [
    "{first} {last}, the {adj} {role} of {place}, {say} the {noun} would be {verb} by {month}.",
    "{plural} in {place} {verb} the {jargon} {noun} on {day}, {say} {first} {last}.",
    "The {topic} {noun} in {place} was {adv} {verb} after {num} {plural} signed a petition.",
    "{first} {last} {say} that the {adj} {jargon} {topic} could cost {money} over {num} years.",
    "According to the {jargon} {noun}, {plural} in {place} faced a {adj} {noun} of {pct}.",
    "The {role} {say} the {noun} of the {topic} was {adv} {adj} and {adj}.",
    "{plural} {verb} the {topic} {noun} in {month}, {adv} before the {jargon} {noun}.",
    "Some {num} {plural} from {place} and {place} joined the {topic} {noun} on {day}.",
    "\u201cThe {noun} is {adj}, and the {plural} know it,\u201d {say} {first} {last}, a {role}.",
    "In {year}, the {topic} in {place} {verb} a {adj} {noun} worth {money}.",
    "The {jargon} {topic} has {adv} become a {adj} {noun} for {plural} across {place}.",
    "{plural} {say} the {adj} {noun} {verb} {num} {plural} and {num} {plural} last {month}.",
    "A {adj} {noun} near the {place} {topic} left {num} {plural} without {jargon} on {day}.",
    "The {noun} {verb} by the {role} would raise the {jargon} {noun} by {pct}.",
    "{first} {last} of the {place} {topic} {say} {plural} were {adv} {adj} about the {noun}.",
    "Figures from {year} show a {adj} {noun} in {jargon} {topic} prices across {place}.",
    "The {place} {role} {verb} the {jargon} {noun} and {verb} a {adj} {noun} of {money}.",
    "{adv}, the {noun} on the {topic} was {verb} until {month} {year}.",
    "Local {plural} {say} the {adj} {topic} had drawn {num} visitors since {month}.",
    "The {jargon} {noun} {verb} on {day} covers {num} {plural} in {place} and {place}.",
]  # fmt: skip
_SLOT = re.compile(r"\{(\w+)\}")
_NUMBER_WORD = re.compile(r"^\$?\d[\d,.]*%?$")


def _parse(template: str) -> list[tuple[bool, str]]:
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in _SLOT.finditer(template):
        if m.start() > pos:
            parts.append((False, template[pos : m.start()]))
        parts.append((True, m.group(1)))
        pos = m.end()
    if pos < len(template):
        parts.append((False, template[pos:]))
    return parts


_PARSED = [_parse(t) for t in TEMPLATES]


def sentence(rng: random.Random, vocab: Vocabulary) -> str:
    """One random sentence from a template, its slots filled from the vocabulary."""
    pools = vocab.pools
    out: list[str] = []
    for is_slot, value in rng.choice(_PARSED):
        if not is_slot:
            out.append(value)
        elif value == "num":
            out.append(str(rng.randint(2, 9999)))
        elif value == "pct":
            out.append(f"{rng.randint(1, 80)}.{rng.randint(0, 9)}%")
        elif value == "money":
            out.append(f"${rng.randint(1, 999)}.{rng.randint(1, 9)} million")
        elif value == "year":
            out.append(str(rng.randint(1990, 2026)))
        elif value == "month":
            out.append(rng.choice(MONTHS))
        elif value == "day":
            out.append(rng.choice(DAYS))
        else:
            out.append(rng.choice(pools[value]))
    text = "".join(out)
    i = 1 if text.startswith("\u201c") else 0
    return text[:i] + text[i].upper() + text[i + 1 :]


def article_sentences(rng: random.Random, vocab: Vocabulary, lo: int, hi: int) -> list[str]:
    """Sentences adding up to a word count drawn from [lo, hi] (the last may overshoot)."""
    target = rng.randint(lo, hi)
    sentences: list[str] = []
    words = 0
    while words < target:
        s = sentence(rng, vocab)
        sentences.append(s)
        words += s.count(" ") + 1
    return sentences


def _case_like(word: str, model: str) -> str:
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


def rewrite(
    sentences: list[str], rng: random.Random, vocab: Vocabulary, share: float
) -> tuple[list[str], float]:
    """Swap about ``share`` of all words for synonyms; returns the copy and the share swapped."""
    tokens = [s.split(" ") for s in sentences]
    slots: list[tuple[int, int]] = []
    total = 0
    for si, words in enumerate(tokens):
        total += len(words)
        for wi, w in enumerate(words):
            core = w.strip(".,;:\u201c\u201d").lower()
            if core in vocab.synonyms:
                slots.append((si, wi))
    want = min(len(slots), round(share * total))
    for si, wi in rng.sample(slots, want):
        w = tokens[si][wi]
        lead = w[: len(w) - len(w.lstrip(".,;:\u201c\u201d"))]
        core = w.strip(".,;:\u201c\u201d")
        trail = w[len(lead) + len(core) :]
        new = rng.choice(vocab.synonyms[core.lower()])
        tokens[si][wi] = lead + _case_like(new, core) + trail
    return [" ".join(words) for words in tokens], want / max(1, total)


def near_edit(
    sentences: list[str], rng: random.Random, vocab: Vocabulary
) -> tuple[list[str], list[str]]:
    """1-3 small edits: a changed number, a dropped sentence, an added sentence."""
    out = list(sentences)
    edits: list[str] = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(("number", "drop", "add"))
        if kind == "number":
            spots = [
                (si, wi)
                for si, s in enumerate(out)
                for wi, w in enumerate(s.split(" "))
                if _NUMBER_WORD.match(w.rstrip(".,"))
            ]
            if spots:
                si, wi = rng.choice(spots)
                words = out[si].split(" ")
                tail = words[wi][len(words[wi].rstrip(".,")) :]
                words[wi] = str(rng.randint(2, 9999)) + tail
                out[si] = " ".join(words)
                edits.append("number")
                continue
            kind = "add"
        if kind == "drop" and len(out) > 4:
            del out[rng.randrange(len(out))]
            edits.append("drop")
        else:
            out.insert(rng.randint(0, len(out)), sentence(rng, vocab))
            edits.append("add")
    return out, edits


@dataclass
class Corpus:
    texts: list[str]
    truth: list[tuple[int, int, str]]  # (original, copy, "near" | "rewrite")
    rewrite_shares: list[float]


def generate_corpus(n: int, seed: int, progress: Callable[[str], None] | None = None) -> Corpus:
    """N distinct articles; 5% near duplicates and 5% rewrites of distinct earlier originals."""
    rng = random.Random(seed)
    vocab = build_vocabulary(seed)
    n_near, n_rw = round(n * NEAR_SHARE), round(n * REWRITE_SHARE)
    copies = rng.sample(range(1, n), n_near + n_rw) if n > 1 else []
    kind_of = {c: "near" for c in copies[:n_near]} | {c: "rewrite" for c in copies[n_near:]}
    sentences: list[list[str]] = []
    bases: list[int] = []  # base articles not yet used as an original, in index order
    truth: list[tuple[int, int, str]] = []
    shares: list[float] = []
    seen: set[str] = set()
    for i in range(n):
        if progress and i and i % 20000 == 0:
            progress(f"generated {i:,}/{n:,} articles")
        kind = kind_of.get(i)
        if kind and bases:
            original = bases.pop(rng.randrange(len(bases)))
            if kind == "near":
                doc, _ = near_edit(sentences[original], rng, vocab)
            else:
                doc, share = rewrite(sentences[original], rng, vocab, rng.uniform(0.15, 0.25))
                shares.append(share)
            truth.append((original, i, kind))
        else:
            doc = article_sentences(rng, vocab, 150, 400)
            bases.append(i)
        text = " ".join(doc)
        while text in seen:  # distinct texts (a collision is practically impossible)
            doc = [*doc, sentence(rng, vocab)]
            text = " ".join(doc)
        seen.add(text)
        sentences.append(doc)
    return Corpus([" ".join(s) for s in sentences], truth, shares)


# -- measurement (runs in a fresh subprocess) ----------------------------------------------


def _rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _hwm_mib() -> float | None:
    """VmHWM (peak RSS of this process image only), where /proc has it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _log(msg: str) -> None:
    print(f"[reuse_neardup {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _run_storyline(texts: list[str], seed: int = 1) -> tuple[set[tuple[int, int]], dict[str, Any]]:
    from storyline.reuse.fingerprint import Fingerprinter, lsh_pairs, optimal_bands

    bands, rows = optimal_bands(THRESHOLD, NUM_PERM)
    start = time.perf_counter()
    fp = Fingerprinter(shingle_size=SHINGLE, num_perm=NUM_PERM, seed=seed)
    sigs = fp.signatures(texts)
    t_sig = time.perf_counter()
    pairs = lsh_pairs(sigs, bands, rows)
    end = time.perf_counter()
    return pairs, {
        "seconds": end - start,
        "signatures_s": t_sig - start,
        "lsh_pairs_s": end - t_sig,
        "bands": bands,
        "rows": rows,
    }


def _storyline_breakdown(texts: list[str]) -> dict[str, float]:
    """Signatures again, cold, split into shingling (numpy) and the MinHash (rensa)."""
    from storyline.reuse.fingerprint import minhash_signatures, shingle_sets

    start = time.perf_counter()
    hashes, offsets = shingle_sets(texts, SHINGLE)
    mid = time.perf_counter()
    minhash_signatures(hashes, offsets, NUM_PERM, 1)
    end = time.perf_counter()
    return {"shingling_s": mid - start, "minhash_s": end - mid}


def exact_pairs(texts: list[str], threshold: float = THRESHOLD) -> set[tuple[int, int]]:
    """Pairs (i < j) whose word 5-gram sets have Jaccard >= threshold, computed exactly."""
    import numpy as np
    from scipy import sparse

    ids: dict[tuple[str, ...], int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        words = re.findall(r"\w+", text.lower())
        k = min(SHINGLE, len(words))
        grams = {tuple(words[x : x + k]) for x in range(len(words) - k + 1)} if words else set()
        for g in grams:
            rows.append(i)
            cols.append(ids.setdefault(g, len(ids)))
    m = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(texts), len(ids))
    )
    size = np.asarray(m.sum(axis=1)).ravel()
    found: set[tuple[int, int]] = set()
    for start in range(0, len(texts), 2000):  # row blocks bound the product's memory
        inter = sparse.triu(m[start : start + 2000] @ m.T, k=1 + start, format="coo")
        a, b = inter.row + start, inter.col
        union = size[a] + size[b] - inter.data
        keep = inter.data >= threshold * union
        found |= {(int(x), int(y)) for x, y in zip(a[keep], b[keep], strict=True)}
    return found


def _run_datasketch(
    texts: list[str], sha1: bool, seed: int = 1
) -> tuple[set[tuple[int, int]], dict[str, Any]]:
    from datasketch import MinHash, MinHashLSH

    from storyline.reuse.fingerprint import optimal_bands

    bands, rows = optimal_bands(THRESHOLD, NUM_PERM)
    n = len(texts)
    step = max(1, n // 10)
    found: set[tuple[int, int]] = set()
    start = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, params=(bands, rows))
    for i, text in enumerate(texts):
        words = re.findall(r"\w+", text.lower())
        shingles = [tuple(words[k : k + SHINGLE]) for k in range(max(1, len(words) - SHINGLE + 1))]
        if sha1:
            m = MinHash(num_perm=NUM_PERM, seed=seed)
            m.update_batch([" ".join(s).encode("utf-8") for s in shingles])
        else:
            m = MinHash(num_perm=NUM_PERM, seed=seed, hashfunc=shingle_hash)
            m.update_batch(shingles)
        for j in lsh.query(m):
            found.add((j, i))
        lsh.insert(i, m)
        if seed == 1 and (i + 1) % step == 0 and i + 1 < n:
            el = time.perf_counter() - start
            _log(f"  {i + 1:,}/{n:,} articles, {el:.0f}s, ~{el / (i + 1) * (n - i - 1):.0f}s left")
    return found, {"seconds": time.perf_counter() - start, "bands": bands, "rows": rows}


def child(method: str, corpus_path: str, out_path: str, repeats: int = 1) -> None:
    """Measure one method on the corpus file; write the result and the pairs as JSON (with
    ``repeats`` > 1, the pairs with permutation seeds 2, 3, ... too: timed once, seed 1)."""
    rss_start = _rss_mib()  # inherited from the parent's image at exec (Linux), before imports
    if method.startswith("datasketch"):
        import datasketch  # noqa: F401 (import cost is not part of the measurement)
    import storyline.reuse.fingerprint  # noqa: F401

    with open(corpus_path, encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    rss_loaded = _rss_mib()
    _log(f"{method}: {len(texts):,} articles loaded ({rss_loaded:.0f} MiB), running")
    if method == "exact":
        t0 = time.perf_counter()
        pairs, result = exact_pairs(texts), {}
        result["seconds"] = time.perf_counter() - t0
    elif method == "storyline":
        pairs, result = _run_storyline(texts)
    else:
        pairs, result = _run_datasketch(texts, sha1=method == "datasketch-sha1")
    result.update(
        peak_rss_mib=_rss_mib(), hwm_mib=_hwm_mib(), rss_loaded_mib=rss_loaded,
        rss_start_mib=rss_start,
    )  # fmt: skip
    if method == "storyline":
        result.update(_storyline_breakdown(texts))
    result["pairs"] = [sorted(pairs)]
    for seed in range(2, repeats + 1 if method != "exact" else 2):
        if method == "storyline":
            result["pairs"].append(sorted(_run_storyline(texts, seed)[0]))
        else:
            result["pairs"].append(sorted(_run_datasketch(texts, method.endswith("sha1"), seed)[0]))
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")


def generate_child(n: int, seed: int, corpus_path: str, out_path: str) -> None:
    """Generate the corpus in its own process (so the parent stays small; see the parent's note)."""
    t0 = time.perf_counter()
    corpus = generate_corpus(n, seed, progress=_log)
    with open(corpus_path, "w", encoding="utf-8") as fh:
        for i, text in enumerate(corpus.texts):
            fh.write(json.dumps({"id": i, "text": text}) + "\n")
    words = sum(t.count(" ") + 1 for t in corpus.texts) / max(1, n)
    share = sum(corpus.rewrite_shares) / max(1, len(corpus.rewrite_shares))
    info = {"truth": corpus.truth, "mean_words": words, "rewrite_swap_share": share,
            "seconds": time.perf_counter() - t0}  # fmt: skip
    Path(out_path).write_text(json.dumps(info), encoding="utf-8")


# -- parent ---------------------------------------------------------------------------------
# The parent stays small on purpose: on Linux a child's ru_maxrss starts at the peak RSS of
# the process image it replaced at exec (the forked parent's), so a parent holding the corpus
# would inflate every child's figure. The corpus is generated and measured in children.


def _spawn(args: list[str]) -> None:
    subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], check=True)


def measure(
    method: str, corpus_path: Path, workdir: Path, repeats: int = 1
) -> tuple[dict[str, Any], list[set[tuple[int, int]]]]:
    out = workdir / f"result-{method}.json"
    wall = time.perf_counter()
    _spawn(["--child", method, "--corpus", str(corpus_path), "--out", str(out),
            "--repeats", str(repeats)])  # fmt: skip
    result = json.loads(out.read_text(encoding="utf-8"))
    result["process_s"] = time.perf_counter() - wall
    pairs = [{(int(a), int(b)) for a, b in run} for run in result.pop("pairs")]
    out.unlink()
    return result, pairs


def recall(pairs: set[tuple[int, int]], truth: list[tuple[int, int, str]], kind: str) -> float:
    want = [(a, b) for a, b, k in truth if k == kind]
    return sum(p in pairs for p in want) / max(1, len(want))


def _table(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(head[c]), *(len(r[c]) for r in rows)) for c in range(len(head))]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _quality(
    runs: list[set[tuple[int, int]]], exact: set[tuple[int, int]] | None
) -> dict[str, Any]:
    """Precision and recall against the exact pairs, averaged over the permutation seeds."""
    if exact is None:
        return {"precision": None, "recall": None}
    prec = [len(p & exact) / len(p) if p else 1.0 for p in runs]
    rec = [len(p & exact) / len(exact) if exact else 1.0 for p in runs]
    return {"precision": sum(prec) / len(prec), "recall": sum(rec) / len(rec), "seeds": len(runs)}


def run_corpus(
    label: str, n: int, path: Path, truth: list[tuple[int, int, str]], methods: list[str],
    workdir: Path, extra: dict[str, Any], repeats: int = 1,
) -> list[dict[str, Any]]:  # fmt: skip
    exact: set[tuple[int, int]] | None = None
    if n <= EXACT_MAX:
        _log(f"{label}: exact Jaccard of all pairs")
        _, (exact,) = measure("exact", path, workdir)
        _log(f"  {len(exact):,} pairs with Jaccard >= {THRESHOLD}")
    else:
        _log(f"{label}: {n:,} articles > {EXACT_MAX:,}: no exact Jaccard (precision/recall -)")
        repeats = 1
    results: list[dict[str, Any]] = []
    for method in methods:
        _log(f"{label}: {method}")
        res, runs = measure(method, path, workdir, repeats)
        pairs = runs[0]
        res.update(
            corpus=label, size=n, method=method, candidate_pairs=len(pairs),
            articles_per_s=n / res["seconds"] if res["seconds"] else float("inf"),
            near_recall=recall(pairs, truth, "near") if truth else None,
            rewrite_recall=recall(pairs, truth, "rewrite") if truth else None,
            exact_pairs=len(exact) if exact is not None else None, **_quality(runs, exact),
            **extra,
        )  # fmt: skip
        _log(f"  {method}: {res['seconds']:.2f}s, {len(pairs):,} pairs")
        results.append(res)
    path.unlink()
    base_s = next((r["seconds"] for r in results if r["method"] == "storyline"), None)
    for res in results:
        res["speedup"] = res["seconds"] / base_s if base_s else None
    return results


def run_size(
    n: int, seed: int, methods: list[str], workdir: Path, repeats: int
) -> list[dict[str, Any]]:
    path = workdir / f"corpus-{n}.jsonl"
    info_path = workdir / f"truth-{n}.json"
    _spawn(["--generate", str(n), "--seed", str(seed), "--corpus", str(path),
            "--out", str(info_path)])  # fmt: skip
    info = json.loads(info_path.read_text(encoding="utf-8"))
    truth = [(int(a), int(b), str(k)) for a, b, k in info["truth"]]
    words, mean_share = info["mean_words"], info["rewrite_swap_share"]
    _log(
        f"corpus of {n:,} articles ({words:.0f} words on average, {len(truth):,} planted "
        f"copies, rewrites swap {mean_share:.1%} of words) in {info['seconds']:.1f}s"
    )
    extra = {"mean_words": words, "rewrite_swap_share": mean_share}
    return run_corpus("planted", n, path, truth, methods, workdir, extra, repeats)


def run_duc(root: Path, methods: list[str], workdir: Path, repeats: int) -> list[dict[str, Any]]:
    from storyline.eval.datasets import read_duc

    texts = [d.text for d in read_duc(root, "all")]
    path = workdir / "corpus-duc.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"id": i, "text": text}) + "\n")
    return run_corpus("DUC 2003", len(texts), path, [], methods, workdir, {}, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument(
        "--duc", default=str(DUC), help="DUC 2003 folder for the quality figures ('' to skip)"
    )
    parser.add_argument(
        "--repeats", type=int, default=5,
        help="permutation seeds the precision and recall are averaged over (timing: seed 1)",
    )  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.corpus, args.out, args.repeats)
        return
    if args.generate is not None:
        generate_child(args.generate, args.seed, args.corpus, args.out)
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
    start = time.perf_counter()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="reuse-neardup-") as tmp:
        for n in sizes:
            results += run_size(n, args.seed, methods, Path(tmp), args.repeats)
        if args.duc and Path(args.duc).is_dir():
            results += run_duc(Path(args.duc), methods, Path(tmp), args.repeats)
        elif args.duc:
            _log(f"{args.duc}: not found, DUC 2003 figures skipped")
    total = time.perf_counter() - start

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    rows = []
    for r in results:
        rows.append([
            r["corpus"], f"{r['size']:,}", r["method"], f"{r['seconds']:.2f}",
            f"{r['articles_per_s']:,.0f}", f"{r['speedup']:.1f}x" if r["speedup"] else "-",
            fmt(r["precision"]), fmt(r["recall"]),
            "-" if r["exact_pairs"] is None else f"{r['exact_pairs']:,}",
            fmt(r["near_recall"]), fmt(r["rewrite_recall"]),
            f"{r['candidate_pairs']:,}", f"{r['peak_rss_mib']:.0f}", f"{r['rss_loaded_mib']:.0f}",
        ])  # fmt: skip
    head = ["corpus", "size", "method", "seconds", "articles/s", "speedup", "precision",
            "recall", "pairs J>=t", "near-dup recall", "rewrite recall", "candidate pairs",
            "peak RSS MiB", "RSS loaded MiB"]  # fmt: skip
    print(
        f"Near-duplicate candidates: word {SHINGLE}-gram shingles, {NUM_PERM} permutations, "
        f"LSH threshold {THRESHOLD}; planted: 5% near duplicates + 5% rewrites"
    )
    print(_table(rows, head))
    print(
        "speedup = this row's seconds / storyline's seconds (how many times faster storyline's "
        f"stage is);\nprecision, recall: of the candidate pairs against the pairs whose exact "
        f"Jaccard is >= {THRESHOLD} (pairs J>=t; '-' above {EXACT_MAX:,} articles), the mean "
        f"over {args.repeats} permutation seeds;\n"
        "RSS loaded: resident memory after reading the corpus, before the method ran."
    )
    if results:
        floor = max(r["rss_start_mib"] for r in results)
        hwm = [r["hwm_mib"] for r in results if r.get("hwm_mib") is not None]
        gap = max((abs(r["hwm_mib"] - r["peak_rss_mib"]) for r in results if r.get("hwm_mib")),
                  default=0.0)  # fmt: skip
        print(
            f"peak RSS: ru_maxrss of the child (its floor, inherited at exec, was at most "
            f"{floor:.0f} MiB)" + (f"; VmHWM agrees within {gap:.0f} MiB" if hwm else "")
        )
    print()
    print("storyline stage, by sub-step (seconds; breakdown re-run cold):")
    sub_head = ["corpus", "size", "signatures", "lsh_pairs", "dominant", "shingling (numpy)",
                "minhash (rensa)"]  # fmt: skip
    sub_rows = []
    for r in results:
        if r["method"] != "storyline":
            continue
        dom = "signatures" if r["signatures_s"] >= r["lsh_pairs_s"] else "lsh_pairs"
        share = max(r["signatures_s"], r["lsh_pairs_s"]) / r["seconds"]
        sub_rows.append([
            r["corpus"], f"{r['size']:,}", f"{r['signatures_s']:.2f}", f"{r['lsh_pairs_s']:.2f}",
            f"{dom} ({share:.0%})", f"{r['shingling_s']:.2f}", f"{r['minhash_s']:.2f}",
        ])  # fmt: skip
    if sub_rows:
        print(_table(sub_rows, sub_head))
    print(f"\ntotal run time {total:.0f}s")
    if args.json:
        print(json.dumps(results, indent=2))
    worse = [
        f"{r['corpus']} {r['size']:,}: {k} {r[k]:.3f} < datasketch's {d[k]:.3f}"
        for r in results if r["method"] == "storyline"
        for d in results
        if d["method"] == "datasketch" and d["corpus"] == r["corpus"] and d["size"] == r["size"]
        for k in ("precision", "recall")
        if r[k] is not None and d[k] is not None and r[k] < d[k] - 0.005
    ]  # fmt: skip
    if worse:
        print("storyline below datasketch (by more than 0.005): " + "; ".join(worse))


if __name__ == "__main__":
    main()
