"""A fuzz target per reader: real inputs from the example corpus, mutated byte by byte.

Each target feeds bytes to one reader as a file of its format. A reader may report a Problem
(that is what bad input is for) or raise InputError/OSError (``read_file`` turns those into
Problems); any other exception is a crash, and every record it yields must be well-formed.

In ``make test`` hypothesis drives the mutations briefly (``HYPOTHESIS_PROFILE=fuzz`` runs
many more). ``make fuzz`` runs the same targets under atheris (libFuzzer, coverage-guided)
when it is installed: ``python tests/test_fuzz_readers.py FORMAT [libFuzzer flags]``.
Every crash found becomes a regression test in ``test_crashes_found_by_fuzzing``.
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from builders import warc_bytes  # noqa: E402
from storyline.ingest import FORMATS, InputError  # noqa: E402
from storyline.ingest.limits import Limits  # noqa: E402
from storyline.records import Problem, RawDoc  # noqa: E402

CORPUS = ROOT / "examples" / "corpus"
#: Small limits, so that the limit paths are fuzzed too and no input runs long.
LIMITS = Limits(max_file_mb=1, max_record_mb=0.25, max_decompressed_mb=2, max_article_chars=50_000)
#: Each format, the extension its temporary file gets, and the example inputs it starts from.
TARGETS: dict[str, tuple[str, list[str]]] = {
    "txt": (".txt", ["txt/*.txt"]),
    "html": (".html", ["html/*.html"]),
    "jsonl": (".jsonl", ["jsonl/*.jsonl"]),
    "jsonl.gz": (".jsonl.gz", []),
    "json": (".json", []),
    "warc": (".warc", ["warc/*.warc"]),
    "warc.gz": (".warc.gz", []),
    "rss": (".rss", ["rss/*.rss"]),
}
TOKENS = [
    b"<!DOCTYPE x [<!ENTITY a \"b\">]>", b"&a;", b"<![CDATA[", b"]]>", b"\x00", b"\xff\xfe",
    b"\xef\xbb\xbf", b"\r\n\r\n", b"WARC/1.0\r\n", b"Content-Length: 99999999\r\n",
    b"Content-Type: text/html; charset=klingon\r\n", b'{"text": ', b"}\n", b"[", b"<div>" * 40,
    b"</p>", b"<script>", b"\xc3\x28", b"\xf0\x9f\x92", b"\\u0000", b"\n---\n", b"title: x\n",
]  # fmt: skip


def seeds(fmt: str) -> list[bytes]:
    """The example inputs a format's mutations start from."""
    _, patterns = TARGETS[fmt]
    found = [p.read_bytes() for pat in patterns for p in sorted(CORPUS.glob(pat))]
    if fmt == "json":
        found = [b"[" + b",".join(line for line in s.splitlines() if line.strip()) + b"]"
                 for s in seeds("jsonl")]  # fmt: skip
    if fmt == "jsonl.gz":
        found = [gzip.compress(s, mtime=0) for s in seeds("jsonl")]
    if fmt == "warc.gz":  # a gzip member per record, as crawlers write them
        pages = sorted(CORPUS.glob("html/*.html"))[:3]
        found = [
            warc_bytes([(f"https://example.org/{p.stem}", p.read_text()) for p in pages], gz=True)
        ]
    return found[:4]


def run_reader(fmt: str, data: bytes) -> list[RawDoc | Problem]:
    """The target: ``data`` as a file of ``fmt``, read; raises only on a crash."""
    ext, _ = TARGETS[fmt]
    reader = FORMATS[fmt.split(".")[0] if fmt != "json" else "jsonl"]
    fmt = fmt.split(".")[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{ext}"
        path.write_bytes(data)
        items: list[RawDoc | Problem] = []
        try:
            for item in reader(path, fmt, LIMITS):
                items.append(item)
        except (InputError, OSError, EOFError):
            return items  # read_file reports these with the file's name
        for item in items:
            if isinstance(item, RawDoc):
                assert item.text.strip(), "an article without text"
                assert item.origin.path == str(path)
            else:
                assert isinstance(item, Problem) and item.reason, item
        return items


def _mutate(data: bytes, ops: list[tuple[int, float, int, bytes]]) -> bytes:
    buf = bytearray(data)
    for op, where, length, payload in ops:
        at = int(where * len(buf))
        if op == 0 and buf:  # flip bytes
            for i in range(at, min(len(buf), at + length)):
                buf[i] ^= 0xFF & (i * 31 + 7)
        elif op == 1:  # insert
            buf[at:at] = payload
        elif op == 2:  # delete a range
            del buf[at : at + length * 8]
        elif op == 3:  # repeat a range
            buf[at:at] = buf[at : at + length * 8] * 3
        elif op == 4:  # truncate
            del buf[at:]
    return bytes(buf)


def mutations(fmt: str) -> st.SearchStrategy[bytes]:
    op = st.tuples(
        st.integers(0, 4),
        st.floats(0, 1, allow_nan=False),
        st.integers(1, 64),
        st.one_of(st.sampled_from(TOKENS), st.binary(max_size=64)),
    )
    return st.builds(_mutate, st.sampled_from(seeds(fmt)), st.lists(op, max_size=8))


def _fuzz_test(fmt: str) -> Callable[..., None]:
    @settings(
        max_examples=int(os.environ.get("STORYLINE_FUZZ_EXAMPLES", "100")),
        # The same examples on every run of make test; make fuzz draws new ones.
        derandomize=not os.environ.get("STORYLINE_FUZZ_RANDOM"),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(mutations(fmt))
    def test(data: bytes) -> None:
        run_reader(fmt, data)

    return test


test_fuzz_txt = _fuzz_test("txt")
test_fuzz_html = _fuzz_test("html")
test_fuzz_jsonl = _fuzz_test("jsonl")
test_fuzz_json = _fuzz_test("json")
test_fuzz_warc = _fuzz_test("warc")
test_fuzz_warc_gz = _fuzz_test("warc.gz")
test_fuzz_jsonl_gz = _fuzz_test("jsonl.gz")
test_fuzz_rss = _fuzz_test("rss")


@pytest.mark.parametrize("fmt", sorted(TARGETS))
def test_every_target_reads_its_seeds(fmt: str) -> None:
    """The unmutated seeds are read as articles: the fuzzing starts from real input."""
    assert seeds(fmt)
    for data in seeds(fmt):
        assert any(isinstance(i, RawDoc) for i in run_reader(fmt, data)), fmt


def _flip(data: bytes, at: float) -> bytes:
    out = bytearray(data)
    out[int(at * len(out))] ^= 0x55
    return bytes(out)


#: Inputs the fuzzing found that crashed a reader (format, how to make it, what is said now).
CRASHES: list[tuple[str, Callable[[], bytes], str]] = [
    # zlib.error ("invalid distance too far back") escaped the JSONL reader of .gz files and
    # ended the file as "unexpected error": now "corrupt compressed data", lines before kept.
    ("jsonl.gz", lambda: _flip(seeds("jsonl.gz")[0], 1 / 3), "corrupt compressed data"),
]


def test_cut_warc_check_reports_corrupt_deflate_data(tmp_path: Path) -> None:
    """The same zlib.error escaped the WARC reader's check for a cut archive (fuzzing found it
    on a mutated warc.gz whose records warcio had read): it is a reason now, not a crash."""
    from storyline.ingest.readers import _warc_cut

    path = tmp_path / "x.warc.gz"
    path.write_bytes(_flip(gzip.compress(seeds("warc")[0], mtime=0), 1 / 3))
    reason = _warc_cut(path, LIMITS)
    assert reason is not None and "corrupt compressed data" in reason


@pytest.mark.parametrize("fmt,make,said", CRASHES)
def test_crashes_found_by_fuzzing(fmt: str, make: Callable[[], bytes], said: str) -> None:
    from storyline.ingest import read_file

    run_reader(fmt, make())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{TARGETS[fmt][0]}"
        path.write_bytes(make())
        problems = [i for i in read_file(path, limits=LIMITS) if isinstance(i, Problem)]
    assert any(said in p.reason for p in problems), problems


def _atheris(fmt: str, argv: list[str]) -> None:
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed: pip install atheris (make fuzz does)")
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{fmt}-"))
    for i, data in enumerate(seeds(fmt)):
        (corpus / f"seed{i}").write_bytes(data)

    def target(data: bytes) -> None:
        run_reader(fmt, data)

    run_reader(fmt, seeds(fmt)[0])  # load the reader's lazy imports, then instrument them all
    atheris.instrument_all()
    atheris.Setup([argv[0], *argv[1:], str(corpus)], target)
    atheris.Fuzz()


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer flags]")
    _atheris(sys.argv[1], [sys.argv[0], *sys.argv[2:]])
