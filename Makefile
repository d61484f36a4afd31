# storyline — `make demo` and `make test` each build .venv when it is missing, then run.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | cksum | cut -d' ' -f1)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test lint bench clean setup fuzz

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "== installing into $(VENV) (first time: a few minutes)"
	@$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
	@# The CPU build of torch, pinned first: a looser requirement pulls a multi-GB CUDA build.
	@$(BIN)/python -m pip install -q torch==2.13.0 2>&1 | grep -v 'is ignored' || true
	@$(BIN)/python -m pip install -q -e ".[ml,dev,ray]" 2>&1 | grep -v 'is ignored' || true
	@$(BIN)/python -c "import storyline, torch, pysbd, trafilatura, ray.data" 
	@# Browser tests drive Debian's chromium through Playwright (never `playwright install`).
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| echo "== could not install chromium: run 'apt-get install -y chromium' as root"
	@# ROUGE-1.5.5 (eval summaries) needs Perl's XML::DOM: Debian's libxml-dom-perl.
	@perl -MXML::DOM -e1 2>/dev/null || (apt-get update -qq && apt-get install -y -qq libxml-dom-perl) \
		|| echo "== could not install libxml-dom-perl: run 'apt-get install -y libxml-dom-perl' as root"
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	@rm -rf demo-out
	$(BIN)/storyline run examples/corpus --out demo-out --db demo-out/storyline.db
	$(BIN)/storyline outlets --db demo-out/storyline.db

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# Longer fuzzing than make test's: hypothesis with fresh examples over the text path and every
# reader, then atheris (coverage-guided libFuzzer) on each reader for FUZZ_SECONDS. Inputs that
# crash land in test-output/fuzz/; each becomes a case in tests/test_fuzz_readers.py.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := txt html jsonl json jsonl.gz warc warc.gz rss
fuzz: $(STAMP)
	@$(BIN)/python -m pip install -q "atheris>=2.3" 2>&1 | grep -v "is ignored" || true
	HYPOTHESIS_PROFILE=fuzz STORYLINE_FUZZ_RANDOM=1 STORYLINE_FUZZ_EXAMPLES=2000 \
		$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_properties.py tests/test_fuzz_readers.py
	@if ! $(BIN)/python -c "import atheris" 2>/dev/null; then \
		echo "== atheris is not installed here: ran the hypothesis fuzzing only"; exit 0; fi; \
	mkdir -p test-output/fuzz && cd test-output/fuzz && for t in $(FUZZ_TARGETS); do \
		echo "== atheris: $$t for $(FUZZ_SECONDS) s"; \
		../../$(BIN)/python ../../tests/test_fuzz_readers.py $$t -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=crash-$$t- > atheris-$$t.log 2>&1 \
			|| { grep -v "Remainder\|Offset:\|WARNING" atheris-$$t.log | tail -40; exit 1; }; \
		grep "DONE" atheris-$$t.log; done

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest_throughput.py
	$(BIN)/python benchmarks/sentence_splitters.py

clean:
	rm -rf $(VENV) demo-out storyline-out test-output .pytest_cache .mypy_cache .ruff_cache
