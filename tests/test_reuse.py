"""Reuse detection: shingles, MinHash and LSH, and the links on the seeds and examples."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLES
from storyline import Corpus
from storyline.reuse.fingerprint import (
    Fingerprinter,
    exact_hash,
    lsh_pairs,
    minhash_signatures,
    optimal_bands,
    shingle_sets,
)
from storyline.reuse.index import group_pairs
from storyline.reuse.links import components, families

TEXTS = [
    "Flood waters rose through the lower town of Marrow Bend on Tuesday forcing the evacuation of 300 households",
    "Flood waters rose through the lower town of Marrow Bend on Tuesday forcing the evacuation of 310 households",
    "The school board approved a new budget on Monday after a four hour meeting with teachers",
    "short text",
    "",
]


_M64 = (1 << 64) - 1
UNICODE_TEXTS = [
    "Officials said \u201cwe\u2019re ready\u201d \u2014 and 3,000 residents left\u2026 (AP)",
    "Caf\u00e9 owners in S\u00e3o Paulo\u00a0\u00abprotested\u00bb on Monday \u00b7 M\u00fcller said",
    "\u4e1c\u4eac\u3001\u5927\u962a\u3002 Tokyo and Osaka \u2013 prices rose 5\u20ac",
    "null\x00byte inside the text, then snake_case_words and UPPER case",
]


def _mix(h: int) -> int:
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _M64
    return h ^ (h >> 31)


def _reference_shingles(text: str, n: int = 5) -> list[int]:
    """The shingle hashes in plain Python over the regex words: what numpy must compute."""
    words = []
    for w in re.findall(r"\w+", text.lower()):
        b = w.encode("utf-8", "surrogatepass")
        h = 0
        for x in b:
            h = (h * 0x100000001B3 + x) & _M64
        words.append(_mix(h ^ len(b)))
    k = min(n, len(words))
    out = []
    for i in range(len(words) - k + 1 if words else 0):
        h = 0
        for j in range(k):
            h = (h * 0x9E3779B97F4A7C15 + words[i + j]) & _M64
        out.append(_mix(h))
    return out


def test_shingles_are_those_of_the_regex_words(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [*TEXTS, *UNICODE_TEXTS]
    for chunk in (1 << 20, 40):  # one chunk, and a chunk per text or two
        monkeypatch.setattr("storyline.reuse.fingerprint._CHUNK_BYTES", chunk)
        hashes, offsets = shingle_sets(texts, 5)
        for i, text in enumerate(texts):
            got = hashes[int(offsets[i]) : int(offsets[i + 1])].tolist()
            assert got == _reference_shingles(text), text


def test_signatures_estimate_jaccard_and_do_not_depend_on_the_batch() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2**63, 400, dtype=np.uint64)
    errors = []
    for keep in (400, 300, 200, 100):  # Jaccard 1, 0.6, 0.33, 0.14 with the base set
        other = np.concatenate([base[:keep], rng.integers(0, 2**63, 400 - keep, dtype=np.uint64)])
        flat = np.concatenate([base, other])
        sigs = minhash_signatures(flat, np.array([0, 400, 800], dtype=np.uint64))
        true = keep / (800 - keep)
        errors.append(abs(float(np.mean(sigs[0] == sigs[1])) - true))
    assert max(errors) < 0.1, errors
    printer = Fingerprinter(5)
    together = printer.signatures(TEXTS)
    alone = np.stack([printer.signatures([t])[0] for t in TEXTS])
    assert np.array_equal(together, alone)
    assert np.all(together[-1] == 0xFFFFFFFF)  # no words: the all-max signature
    assert not np.array_equal(together[0], together[1])
    assert float(np.mean(together[0] == together[1])) > 0.5  # one number apart


def test_lsh_finds_what_datasketch_finds() -> None:
    datasketch = pytest.importorskip("datasketch")
    rng = np.random.default_rng(7)
    base = [rng.integers(0, 2**32, 60, dtype=np.uint64).astype(np.uint32) for _ in range(40)]
    sets = [
        *base,
        *(
            np.unique(np.concatenate([b[:50], rng.integers(0, 2**32, 10).astype(np.uint32)]))
            for b in base[:20]
        ),
    ]
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in sets])]).astype(np.uint64)
    sigs = minhash_signatures(np.concatenate(sets).astype(np.uint64), offsets)
    bands, rows = optimal_bands(0.5)
    lsh = datasketch.MinHashLSH(threshold=0.5, num_perm=128, params=(bands, rows))
    expected = set()
    for i, sig in enumerate(sigs):
        m = datasketch.MinHash(num_perm=128, hashvalues=sig, scheme="affine32")
        expected |= {(j, i) for j in lsh.query(m)}
        lsh.insert(i, m)
    assert lsh_pairs(sigs, bands, rows) == expected
    assert len(expected) >= 15


def test_optimal_bands_match_datasketch() -> None:
    lsh = pytest.importorskip("datasketch.lsh")
    for threshold in (0.5, 0.7, 0.9):
        assert optimal_bands(threshold, 128) == lsh._optimal_param(threshold, 128, 0.5, 0.5)


def test_exact_hash_ignores_case_space_and_punctuation() -> None:
    assert exact_hash("Flood waters rose, officials said.") == exact_hash(
        "flood  waters rose officials said"
    )
    assert exact_hash("Flood waters rose.") != exact_hash("Flood waters fell.")


def test_families_count_a_copy_family_once() -> None:
    def link(s: str, c: str, kind: str) -> dict:
        return {"source": s, "copy": c, "kind": kind, "direction": "known"}

    fams = families(
        [link("wire", "a", "near_duplicate"), link("a", "b", "rewrite"), link("x", "y", "partial")]
    )
    assert fams == {"wire": "wire", "a": "wire", "b": "wire"}


def union_find_components(edges: list[tuple[str, str]]) -> dict[str, str]:
    """The plain sequential answer: each node -> the smallest node of its component."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def random_graphs(seed: int, count: int = 60) -> list[list[tuple[str, str]]]:
    """Graphs of chains, stars, cliques and random edges over few or many nodes."""
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(count):
        nodes = [f"n{k:03d}" for k in rng.permutation(int(rng.integers(2, 80)))]
        m = int(rng.integers(1, 3 * len(nodes)))
        edges = [(nodes[int(rng.integers(len(nodes)))], nodes[int(rng.integers(len(nodes)))])
                 for _ in range(m)]  # fmt: skip
        edges += list(itertools.pairwise(nodes[:20]))  # a chain: many rounds
        graphs.append([(a, b) for a, b in edges if a != b])
    return graphs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hash_to_min_components_equal_a_union_find(seed: int) -> None:
    for edges in random_graphs(seed):
        assert components(edges) == union_find_components(edges)


def test_group_pairs_are_the_pairs_with_a_new_article() -> None:
    members = [("c", False), ("a", True), ("b", False), ("d", True)]
    assert sorted(group_pairs("b0:1", members)) == [
        ("a", "b"), ("a", "c"), ("a", "d"), ("b", "d"), ("c", "d")
    ]  # fmt: skip
    assert list(group_pairs("x:h", [("a", False), ("b", False)])) == []


@pytest.fixture(scope="module")
def seed_corpus(seeds_analyzed: Corpus) -> tuple[Corpus, dict[str, str]]:
    corpus = seeds_analyzed
    ids = {Path(a.origin.path).name[:3]: a.id for a in corpus.articles()}
    return corpus, ids


def test_seed_000_is_a_rewrite_of_001(seed_corpus: tuple[Corpus, dict[str, str]]) -> None:
    corpus, ids = seed_corpus
    links = corpus.links()
    [link] = [ln for ln in links if {ln["source"], ln["copy"]} == {ids["000"], ids["001"]}]
    assert link["kind"] == "rewrite"
    assert link["direction"] == "known"
    assert (link["source"], link["copy"]) == (ids["001"], ids["000"])
    assert any("NBC News" in r for r in link["reasons"])
    swapped = {
        (s["old"].lower(), s["new"].lower()) for p in link["pairs"] for s in p["substitutions"]
    }
    assert ("amassed", "stockpiled") in swapped


def test_seed_independent_reports_copy_nothing(seed_corpus: tuple[Corpus, dict[str, str]]) -> None:
    corpus, ids = seed_corpus
    for ln in corpus.links():
        if ids["003"] in (ln["source"], ln["copy"]) or ids["004"] in (ln["source"], ln["copy"]):
            assert ln["kind"] == "shared_quotes", ln["kind"]
    assert any(c.outlet == "CNN" for c in corpus.article(ids["002"]).credits)
    families_ = corpus.store.families()
    assert families_[ids["000"]] == families_[ids["001"]] == ids["001"]


@pytest.fixture(scope="module")
def example_links(example_analyzed: Corpus) -> tuple[dict, dict[str, str], Corpus]:
    corpus = example_analyzed
    truth = json.loads((EXAMPLES / "truth.json").read_text())
    by_url = {a.url: a.id for a in corpus.articles()}
    return truth, by_url, corpus


def test_example_links_match_the_truth(example_links: tuple[dict, dict[str, str], Corpus]) -> None:
    truth, by_url, corpus = example_links
    found = {
        (ln["source"], ln["copy"]): ln for ln in corpus.links() if ln["kind"] != "shared_quotes"
    }
    want = {(by_url[t["source"]], by_url[t["copy"]]): t for t in truth["links"]}
    assert set(found) == set(want)  # every planted link, and no false copy link
    for key, t in want.items():
        assert found[key]["kind"] == t["kind"]
        assert found[key]["direction"] == "known"


def test_independent_example_pairs_have_no_copy_link(
    example_links: tuple[dict, dict[str, str], Corpus],
) -> None:
    truth, by_url, corpus = example_links
    for pair in truth["independent_pairs"]:
        link = corpus.store.link_between(by_url[pair["a"]], by_url[pair["b"]])
        assert link is None or link["kind"] in (None, "shared_quotes"), pair


def test_compare_explains_a_missing_link(
    example_links: tuple[dict, dict[str, str], Corpus],
) -> None:
    truth, by_url, corpus = example_links
    pair = truth["independent_pairs"][0]
    result = corpus.compare(by_url[pair["a"]], by_url[pair["b"]])
    if result["kind"] is None:
        assert any(w.startswith("rewrite:") for w in result["why_not"])
    rewrite = next(t for t in truth["links"] if t["kind"] == "rewrite")
    shown = corpus.compare(by_url[rewrite["copy"]], by_url[rewrite["source"]])
    assert shown["kind"] == "rewrite" and shown["source"] == by_url[rewrite["source"]]
    assert any(p["substitutions"] for p in shown["pairs"])


def test_links_in_both_reports(
    example_links: tuple[dict, dict[str, str], Corpus], tmp_path: Path
) -> None:
    import jsonschema

    from storyline.report import load_schema

    _, _, corpus = example_links
    corpus.write_report(tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(report, load_schema())
    assert report["links"] and report["families"]
    html = (tmp_path / "report.html").read_text()
    assert 'id="links"' in html and "<del>" in html and "<ins>" in html
    assert "built-in method" not in html


def test_term_cosines_at_once_equal_one_by_one() -> None:
    import random

    from storyline.reuse.index import cosine, cosines, term_vector

    rng = random.Random(1)
    words = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 80))) for _ in range(200)]
    texts += ["", "the of and"]  # no terms at all
    vectors = [term_vector(t) for t in texts]
    for a in vectors[:40] + vectors[-2:]:
        one_by_one = np.array([cosine(a, b) for b in vectors])
        assert np.allclose(cosines(a, vectors), one_by_one, rtol=0, atol=1e-12)
    assert cosines(vectors[0], []).shape == (0,)


def test_alignments_planned_together_equal_one_at_a_time(
    example_links: tuple[dict, dict[str, str], Corpus],
) -> None:
    """``find_links`` plans many article pairs at once (their sentence pairs' features in one
    batch): every plan equals the article pair's own."""
    from storyline.reuse.align import plan_alignment, plan_alignments
    from storyline.reuse.decision import load_decision

    corpus = example_links[2]
    texts = [[s.text for s in a.sentences] for a in corpus.articles()]
    pairs = [(texts[i], texts[j]) for i in range(len(texts)) for j in range(i + 1, len(texts))]
    decision = load_decision()
    together = plan_alignments(pairs, decision)
    assert sum(len(p.i) for p in together) > 0
    for (a, b), plan in zip(pairs, together, strict=True):
        alone = plan_alignment(a, b, decision)
        assert plan.i.tolist() == alone.i.tolist() and plan.j.tolist() == alone.j.tolist()
        assert plan.same.tolist() == alone.same.tolist()
        assert plan.scores.base.tolist() == alone.scores.base.tolist()
        assert plan.scores.lin.tolist() == alone.scores.lin.tolist()


def test_term_cosines_of_a_chunk_equal_each_articles_own_bit_for_bit() -> None:
    """The rewrite neighbours' cosines of a chunk of articles come from one sparse product;
    each equals ``cosines`` of its article exactly (ties among neighbours are broken by these
    values), with empty vectors and articles that share no term among them."""
    import random

    from storyline.reuse.index import cosine_matrix, cosines, term_vector

    rng = random.Random(7)
    words = [f"w{i}" for i in range(400)] + ["Halloran", "bridge", "mayor", "strike"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 120))) for _ in range(150)]
    texts += ["", "the of and", texts[3], texts[3]]  # no terms; duplicates (cosine 1)
    vectors = [term_vector(t) for t in texts]
    table = cosine_matrix(vectors[:60], vectors)
    assert table.shape == (60, len(vectors))
    for r in range(60):
        assert np.array_equal(table[r], cosines(vectors[r], vectors))
    assert table[3, -1] == table[3, -2] and table[3, -1] > 0.999
    assert cosine_matrix([], vectors).shape == (0, len(vectors))
    assert cosine_matrix(vectors[-4:-2], vectors[-4:-2]).tolist() == [[0.0, 0.0], [0.0, 0.0]]
