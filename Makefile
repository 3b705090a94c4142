# fluid-lifecycle: every task of the project is a target here.
#   make run        the operator on a local control plane (or the cluster KUBECONFIG points at)
#   make test       the whole suite: lint, unit, property, drift checks and the real control plane
#   make test-fast  unit + property tests only (no cluster), under a minute
#   make generate   every generated file: CRDs, deploy/operator.yaml, deploy/chart, diagrams
#   make mutants    mutation testing: every one-change mutant of the lifecycle tables against the behavioural tests
#   make image      the operator image fluid-lifecycle:<pyproject version>, with podman, buildah or docker

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup test test-fast test-cluster lint diagrams crds manifests chart generate run operator \
        controlplane helm image cluster-up cluster-down cluster-status bench mutants clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "fluid-lifecycle needs Python >= 3.11; set PYTHON=python3.11")'
	@echo "[setup] creating $(VENV) and installing fluid-lifecycle with its test tools ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)
	@echo "[setup] done"

controlplane:
	@deploy/controlplane/build.sh

# Builds helm (pinned in deploy/tools/helm) on first use and prints the path of the binary.
helm:
	@bin="$$(deploy/tools/build-helm.sh)" && echo "$$bin/helm"

image:
	@PYTHON="$(PYTHON)" deploy/image/build.sh

test: setup controlplane lint
	$(PY) -m pytest -p no:cacheprovider tests

test-fast: setup
	$(PY) -m pytest -p no:cacheprovider -m "not cluster and not deep" -q -n 2 tests/unit tests/property

test-cluster: setup controlplane
	$(PY) -m pytest -p no:cacheprovider -m cluster tests

lint: setup
	$(PY) -m ruff check lifecycle engines tests
	$(PY) -m mypy
	$(PY) -m mypy tests/bench
	$(VENV)/bin/lint-imports

diagrams: setup
	$(VENV)/bin/fluidlc diagrams

crds: setup
	$(VENV)/bin/fluidlc crds

manifests: setup
	$(VENV)/bin/fluidlc manifests

chart: setup
	$(VENV)/bin/fluidlc chart

# Every generated file (CRDs, operator manifests, chart, diagrams); `fluidlc generate --check` checks them.
generate: setup
	$(VENV)/bin/fluidlc generate

run: setup
	$(VENV)/bin/fluidlc run

operator: setup
	$(VENV)/bin/fluidlc operator

cluster-up: setup controlplane
	$(VENV)/bin/fluidlc cluster up

cluster-down: setup
	$(VENV)/bin/fluidlc cluster down

cluster-status: setup
	$(VENV)/bin/fluidlc cluster status

# make bench PAIRS=1000 ENGINE=alluxio (scripted|alluxio|jindo) IDLE=120 MEMORY_PAIRS=10000
# PARTS=memory,cluster,manager WORKERS=16 (the operator's --workers; default its own)
PAIRS ?= 100
ENGINE ?= scripted
IDLE ?= 120
MEMORY_PAIRS ?= 10000
PARTS ?= memory,cluster,manager
PROFILE ?=
WORKERS ?=
TRACE ?=
bench: setup controlplane
	BENCH_PAIRS=$(PAIRS) BENCH_ENGINE=$(ENGINE) BENCH_IDLE=$(IDLE) BENCH_MEMORY_PAIRS=$(MEMORY_PAIRS) \
	BENCH_PARTS=$(PARTS) BENCH_PROFILE=$(PROFILE) BENCH_WORKERS=$(WORKERS) BENCH_TRACE=$(TRACE) $(PY) -m tests.bench

# Prints the score (killed by behaviour / total) and the survivors; fails below 95 %.
mutants: setup
	$(PY) -m tests.mutants

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
