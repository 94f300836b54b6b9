# Entry points: `make demo`, `make test`, and `make athlete` for your own Strava data. All create .venv and install on demand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat setup.py | sha1sum | cut -c1-12)
export ATHLETE_PLATFORM_HOME ?= $(CURDIR)/.athlete_platform
export DAGSTER_HOME ?= $(ATHLETE_PLATFORM_HOME)/dagster_home
export NML_DISABLE_USAGE_LOGGING := 1

.PHONY: demo athlete test install check-java validate benchmark benchmark-scale benchmark-backfill clean

check-java:
	@command -v java >/dev/null 2>&1 || { echo "ERROR: Java 17 is required for Spark (install OpenJDK 17, e.g. 'apt-get install openjdk-17-jre-headless', and make sure 'java' is on PATH)."; exit 1; }
	@java -version 2>&1 | head -1 | grep -Eq '"(17|21)' || { echo "ERROR: Spark 4 needs Java 17 or 21; found: $$(java -version 2>&1 | head -1)"; exit 1; }

$(STAMP): setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3,11),(3,12)) else "ERROR: Python 3.11 or 3.12 is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

demo: check-java install
	$(PY) -m athlete_platform.demo $(DEMO_ARGS)

# make athlete EXPORT=<export.zip | folder | activities.csv> TIMEZONE=<Area/City>   (or SOURCE=strava_api + secrets)
athlete: check-java install
	$(PY) -m athlete_platform.athlete $(if $(EXPORT),--export "$(EXPORT)") $(if $(TIMEZONE),--timezone "$(TIMEZONE)") $(if $(SOURCE),--source "$(SOURCE)") $(ATHLETE_ARGS)

test: check-java install
	$(PY) -m pytest $(PYTEST_ARGS)

# Validation needs no instance: without DAGSTER_HOME dagster uses a temporary one (the exported home may not exist yet).
validate: install
	env -u DAGSTER_HOME ATHLETE_PLATFORM_ENV=local $(VENV)/bin/dagster definitions validate -w workspace.yaml
	env -u DAGSTER_HOME ATHLETE_PLATFORM_ENV=databricks $(VENV)/bin/dagster definitions validate -w workspace.yaml

benchmark: check-java install
	$(PY) benchmarks/features_benchmark.py $(BENCH_ARGS)

# The whole daily graph at 1,000 / 3,000 / 10,000 simulated athletes (issue #13; ~1 h, prepared once per size)
benchmark-scale: check-java install
	$(PY) benchmarks/scale_benchmark.py daily --athletes 1000 3000 10000 --history-days 92 $(BENCH_ARGS)

# Three years of 1,000 simulated athletes from one command, then the pandas reference of the feature stage (~25 min)
benchmark-backfill: check-java install
	$(PY) benchmarks/scale_benchmark.py backfill --athletes 1000 --start 2023-01-01 --end 2025-12-31 $(BENCH_ARGS)

clean:
	rm -rf $(ATHLETE_PLATFORM_HOME)
