# Two commands for a newcomer:  `make run` (main job end to end) and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
CONFIG  ?= configs/daily.yaml
STAMP   := $(VENV)/.installed

.PHONY: install run test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel of 2.13.0 (an unpinned torch pulls GBs of CUDA packages)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/soilco2 data build --out build/cosore
	$(BIN)/soilco2 data summary
	$(BIN)/soilco2 daily train $(CONFIG)
	$(BIN)/soilco2 daily report runs/daily

test: $(STAMP)
	bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/daily_dataset_build.py
	$(BIN)/python benchmarks/bench_daily.py
	$(BIN)/python benchmarks/bench_subdaily.py
	$(BIN)/python benchmarks/bench_report.py runs/daily
	$(BIN)/python benchmarks/daily_gapfill.py runs/daily
	$(BIN)/python benchmarks/bench_global.py

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
