# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SETUP_STAMP := $(VENV)/.spark-setup-stamp

.PHONY: setup demo test test-fast bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,quality]"
	touch $(STAMP)

# Resolves Delta/Avro/JDBC jars from Maven Central into ~/.cache/localglue (once) and writes
# Spark's conf files into the venv's pyspark.
$(SETUP_STAMP): $(STAMP) etl/jars.py etl/setup_env.py etl/session.py
	$(BIN)/etl setup
	touch $(SETUP_STAMP)

setup: $(SETUP_STAMP)

demo: setup
	$(BIN)/etl demo

test: setup
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not e2e"

bench: setup
	$(BIN)/python bench/bench_io.py --rows 5000000 --runs 3 --prune-rows 5000000 40000000
	$(BIN)/python bench/bench_crawler.py --files 10000 --runs 3
	$(BIN)/python bench/bench_transforms.py --rows 2000000 --runs 9
	$(BIN)/python bench/bench_findmatches.py --febrl febrl3 --labels 100 --scale 100000 250000 500000 1000000

lint: $(STAMP)
	$(BIN)/ruff check etl awsglue jobs tests bench

clean:
	rm -rf $(VENV) catalog/* .pytest_cache
