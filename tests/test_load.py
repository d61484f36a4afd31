"""The load benchmark, small: `benchmarks/serve_load.py` against `storyline serve` on
127.0.0.1 over the example store, a fixed number of requests per page. The figures are the
benchmark's to print; the test checks that every request of every page was answered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from webtools import example_store

pytest.importorskip("fastapi")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_every_page_answers_every_request_under_load() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serve_load.py"), "--store",
         str(example_store()), "--requests", "30", "--clients", "3", "--max-seconds", "120",
         "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert len(result["endpoints"]) == 8
    for name, row in result["endpoints"].items():
        assert row["requests"] == 30 and row["errors"] == 0, (name, row)
