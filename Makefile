# mlpipe: `make run` runs the whole pipeline on the local stack; `make test` runs the tests.
# Both create .venv (Python 3.12, MWAA 3.3.1's constraints) on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
BIN         := $(VENV)/bin
PY          := $(BIN)/python
CONSTRAINTS := constraints/airflow-3.3.1-constraints-3.12.txt
STAMP       := $(VENV)/.installed

export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)/include:$(CURDIR)
export MLPIPE_HOME := $(CURDIR)
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export PIPELINE_ENV ?= local

# make run [START=2026-11-01 END=2026-11-02] [EVENTS=100000 CUSTOMERS=2000] [DRIFT=end|none|YYYY-MM-DD] [KEEP=1]
START  ?= 2026-11-01
END    ?= 2026-11-02
EVENTS ?=
CUSTOMERS ?=
DRIFT  ?= end
KEEP   ?=
# make dag DAG=ml_ingest DATE=2026-11-01 ; make backfill DAG=ml_ingest START=... END=...
DAG    ?= ml_ingest
DATE   ?= $(START)

.PHONY: help setup run test test-fast runtimes lint clean dag backfill bench airflow-db up down

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt $(CONSTRAINTS)
	@PY312=$$(scripts/find-python) || exit 1; \
	  [ -x $(PY) ] || { echo "creating $(VENV) with $$PY312"; $$PY312 -m venv $(VENV); }
	$(BIN)/pip install --quiet --disable-pip-version-check pip==26.3
	@# requirements.txt carries MWAA's --constraint URL (locally the same constraints come from constraints/) and
	@# xgboost-cpu (locally requirements-dev.txt's full xgboost provides the same module)
	grep -v -e '^--constraint' -e '^xgboost-cpu' requirements.txt > $(VENV)/requirements-mwaa.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) \
	  -r $(VENV)/requirements-mwaa.txt -r requirements-dev.txt
	touch $@

setup: $(STAMP)  ## create .venv and install everything (Python 3.12; PYTHON=... to choose one)

airflow-db: $(STAMP)
	@$(PY) -m devtools.airflow_local migrate

run: $(STAMP) airflow-db  ## the whole chain on the local stack: ingest, features, training, deployment, monitoring, drift, retraining
	$(PY) -m devtools.run_local --start $(START) --end $(END) --drift-from $(DRIFT) \
	  $(if $(EVENTS),--events $(EVENTS)) $(if $(CUSTOMERS),--customers $(CUSTOMERS)) $(if $(KEEP),--keep)

test: $(STAMP)  ## run every test (unit, DAG integrity, integration, slow end-to-end)
	$(PY) -m pytest -q

test-fast: $(STAMP)  ## the tests without the slow end-to-end ones
	$(PY) -m pytest -q -m "not slow"

runtimes: $(STAMP)  ## build the AWS runtimes' virtualenvs in .venvs/ (EMR, SageMaker image, MWAA); make test builds them on first use
	$(PY) -m devtools.runtime_venvs build

lint: $(STAMP)  ## ruff, with Airflow's AIR rules
	$(BIN)/ruff check dags plugins include tests bench devtools

dag: $(STAMP) airflow-db  ## run one DAG for one logical date: make dag DAG=ml_ingest DATE=2026-11-01
	$(BIN)/airflow dags test $(DAG) $(DATE)

backfill: $(STAMP) airflow-db  ## airflow backfill create on a local scheduler: make backfill DAG=ml_ingest START=... END=...
	$(PY) -m devtools.backfill --dag $(DAG) --start $(START) --end $(END)

bench: $(STAMP)  ## run the benchmarks; prints a table and writes bench/results.json
	$(PY) -m bench

clean:  ## remove generated data, Airflow state and caches (keeps .venv)
	rm -rf data .airflow dist .venvs .pytest_cache .ruff_cache bench/results.json spark-warehouse metastore_db derby.log
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +

up:  ## docker compose: Airflow 3.3.1 (API server, scheduler, DAG processor, triggerer) + PostgreSQL + a source DB
	docker compose up -d --build
	@echo "Airflow UI: http://localhost:8080"

down:  ## stop the docker compose services
	docker compose down

.PHONY: sql
sql: $(STAMP)  ## DuckDB SQL shell on the local lake's silver and gold tables (views silver.<t>, gold.<t>)
	$(PY) -m devtools.sql_shell

approve: $(STAMP)  ## approve a version of the local model registry: make approve VERSION=3
	$(PY) -m mlpipe.local.registry approve --version $(VERSION)

reject: $(STAMP)  ## reject a version of the local model registry: make reject VERSION=3
	$(PY) -m mlpipe.local.registry reject --version $(VERSION)

serve: $(STAMP)  ## serve the newest Approved model version on the local endpoint (blue/green; prints the URL): make serve [VERSION=3]
	$(PY) -m mlpipe.local.serve serve $(if $(VERSION),--version $(VERSION))

stop: $(STAMP)  ## stop every version of the local endpoint (deployment.endpoint_name) and clear its live state
	$(PY) -m mlpipe.local.serve stop

# the aws stack on Amazon MWAA (see the README's "Deploy to MWAA"); the config is PIPELINE_ENV unless that is
# the default 'local' (then aws-dev): make package PIPELINE_ENV=aws-prod
AWS_ENV = $(if $(filter local,$(PIPELINE_ENV)),aws-dev,$(PIPELINE_ENV))
.PHONY: package deploy iam-policy
package: $(STAMP)  ## MWAA bundle in dist/mwaa/: dags/ (+ include/), plugins.zip, requirements.txt, startup.sh, code/ [OFFLINE=1: the workers' wheels in plugins.zip]
	$(PY) -m devtools.package build --env $(AWS_ENV) $(if $(OFFLINE),--offline)

deploy: package  ## upload dist/mwaa with the AWS CLI (code encrypted with aws.kms_key_arn): make deploy BUCKET=<MWAA bucket> [CODE_BUCKET=<default aws.code_bucket>] [OFFLINE=1]
	$(PY) -m devtools.package deploy --env $(AWS_ENV) --bucket "$(BUCKET)" $(if $(CODE_BUCKET),--code-bucket "$(CODE_BUCKET)")

iam-policy: $(STAMP)  ## least-privilege IAM policies from the config into dist/iam/: make iam-policy [BUCKET=...] [MWAA_ENV=...]
	$(PY) -m devtools.iam_policy --env $(AWS_ENV) --out dist/iam $(if $(BUCKET),--mwaa-bucket $(BUCKET)) $(if $(MWAA_ENV),--mwaa-environment $(MWAA_ENV))
