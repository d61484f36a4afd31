"""Property-based tests of the text path: decode → clean → split → fingerprint never raises,
sentence spans always index the clean text, cleaning is idempotent, and ids are stable.

Hypothesis draws news-like text (paragraphs of words, quotes, datelines, credits, odd white
space and any Unicode) as well as arbitrary strings and bytes. ``make fuzz`` runs the same
properties with many more examples (``HYPOTHESIS_PROFILE=fuzz``)."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyline.config import CleanSettings
from storyline.ids import article_id, canonical_url
from storyline.ingest.clean import clean_text
from storyline.ingest.decode import InputError, decode_bytes
from storyline.reuse.fingerprint import Fingerprinter, exact_hash
from storyline.text.segment import split_sentences

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

WORDS = (
    "the council said on Tuesday that flood water rose through Marrow Bend and 300 homes were "
    "evacuated “We moved everyone” Chief Dahl told Reuters AP (CPA) — Mr. Dr. U.S. 3.5% "
    "Advertisement Share this article Read more Subscribe © 2024 PORT HALLORAN, March 18"
).split()
word = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=12))
space = st.sampled_from([" ", " ", " ", "  ", "\t", "\u00a0", "\u2009", "\u200b"])
sentence = st.builds(
    lambda ws, sp, end: sp.join(ws) + end,
    st.lists(word, min_size=1, max_size=20),
    space,
    st.sampled_from([".", "?", "!", ".”", "…", "", ":", '."']),
)
paragraph = st.lists(sentence, min_size=1, max_size=4).map(" ".join)
separators = st.sampled_from(["\n\n", "\n", "\r\n\r\n", "\n \n", "\n\n\n", "\u2029", "\x0c"])
news = st.builds(lambda ps, sep: sep.join(ps), st.lists(paragraph, max_size=8), separators)
any_text = st.one_of(news, st.text(max_size=1000))


@given(st.binary(max_size=4000))
def test_decode_never_raises_but_input_error(data: bytes) -> None:
    try:
        text, encoding, flags = decode_bytes(data)
    except InputError:
        return
    assert isinstance(text, str) and encoding and isinstance(flags, list)


@given(any_text, st.one_of(st.none(), sentence))
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_cleaning_is_idempotent(text: str, title: str | None) -> None:
    once = clean_text(text, title, CleanSettings())
    # A headline found in the text becomes the article's title (the store keeps it), and
    # cleaning again reads it: cleaning with what the first cleaning learned changes nothing.
    twice = clean_text(once.text, title or once.title, CleanSettings())
    assert twice.text == once.text
    assert not twice.removed


@given(any_text, st.sampled_from(["pysbd", "syntok", "regex"]))
def test_sentence_spans_index_the_clean_text(text: str, splitter: str) -> None:
    clean = clean_text(text, None, CleanSettings()).text
    spans = split_sentences(clean, splitter)
    last = 0
    for a, b in spans:
        assert last <= a < b <= len(clean)  # in order, not overlapping, inside the text
        assert clean[a:b].strip() == clean[a:b]  # a sentence starts and ends on a character
        last = b
    # Every word of the clean text is in some sentence: nothing is lost between spans.
    covered = "".join(clean[a:b] for a, b in spans)
    assert "".join(clean.split()) == "".join(covered.split())


@given(st.lists(any_text, min_size=1, max_size=6))
def test_fingerprints_never_raise_and_do_not_depend_on_the_batch(texts: list[str]) -> None:
    fp = Fingerprinter()
    together = fp.signatures(texts)
    assert together.shape == (len(texts), 128)
    for i, text in enumerate(texts):
        np.testing.assert_array_equal(fp.signatures([text])[0], together[i])
        assert exact_hash(text) == exact_hash(text)


@given(
    st.one_of(
        st.none(),
        st.text(max_size=200),
        st.from_regex(r"https?://[a-z.]{1,20}/[\w/?=&%#.-]{0,40}", fullmatch=True),
    ),
    st.one_of(st.none(), st.text(max_size=40)),
    st.text(max_size=500),
)
def test_ids_are_stable_and_depend_on_what_they_say(
    url: str | None, source: str | None, raw: str
) -> None:
    first = article_id(url, source, raw)
    assert first == article_id(url, source, raw)
    assert isinstance(first, str) and first
    if url:
        canonical_url(url)  # never raises


CREDIT_WORDS = ["Photo", "photos:", "PICTURE by", "image/", "Video ©", "via Reuters", "Getty Images",
                "Shutterstock", "AP Photo", "AFP photo", "EPA-EFE", "Reuters/", "©2024", "İmage:",
                "ıllustration by", "ſhutterstock", "\u212aate / Getty", "credit", "pool photo"]  # fmt: skip


@given(st.lists(st.one_of(st.sampled_from(CREDIT_WORDS), word), max_size=12).map(" ".join))
def test_the_photo_credit_prefilter_never_changes_the_search(text: str) -> None:
    """The cheap keyword check only skips paragraphs the credit search could not match."""
    from storyline.ingest.clean import _PHOTO_CREDIT, _photo_credit

    assert _photo_credit(text) == (_PHOTO_CREDIT.search(text) is not None)
