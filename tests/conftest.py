"""Shared fixtures: one named fixture per setup (store, corpora, CLI runner)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from storyline.store import Store

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("STORYLINE_SHARED", ROOT.parent / "shared"))
EXAMPLES = ROOT / "examples"


@pytest.fixture
def fresh_store() -> Store:
    """An in-memory store, new for each test."""
    store = Store(":memory:")
    yield store
    store.close()


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The five real seed articles in ../shared (skipped where absent, as on a user's machine)."""
    path = SHARED / "corpus" / "seeds"
    if not path.is_dir():
        pytest.skip("../shared/corpus/seeds is not present")
    return path


@pytest.fixture(scope="session")
def shared_eval() -> Path:
    path = SHARED / "eval"
    if not path.is_dir():
        pytest.skip("../shared/eval is not present")
    return path


@pytest.fixture(scope="session")
def example_corpus() -> Path:
    path = EXAMPLES / "corpus"
    if not path.is_dir():
        pytest.fail("examples/corpus is missing: it ships with the project")
    return path


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def example_analyzed(example_corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    """The example corpus through every stage, once per session (tests only read it)."""
    from storyline.corpus import Corpus

    corpus = Corpus(tmp_path_factory.mktemp("example") / "storyline.db")
    corpus.add([str(example_corpus)])
    yield corpus
    corpus.close()


@pytest.fixture(scope="session")
def seeds_analyzed(seeds_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The five seeds through every stage, once per session (tests only read it)."""
    from storyline.corpus import Corpus

    corpus = Corpus(tmp_path_factory.mktemp("seeds") / "storyline.db")
    corpus.add([str(seeds_dir)])
    yield corpus
    corpus.close()
