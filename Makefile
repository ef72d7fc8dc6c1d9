# The commands a newcomer needs. Everything installs itself on first use.
PYTHON ?= python3
PORT ?= 3000
DATA_DIR ?=
VENV := .venv
TOOLS := .venv-tools
STAMPS := .make
PY312 := $(shell PYENV_VERSION=3.12.1 python3.12 --version >/dev/null 2>&1 && echo yes)
export SAM_CLI_TELEMETRY := 0

.PHONY: install local test lint unit build deploy bench openapi clean

install: $(STAMPS)/venv $(STAMPS)/tools

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $@

# aws-sam-cli pins boto3/pydantic to its own ranges: it lives in its own venv.
$(STAMPS)/tools:
	@mkdir -p $(STAMPS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet aws-sam-cli==1.170.0 cfn-lint==1.58.0
	@touch $@

local: $(STAMPS)/venv
	$(VENV)/bin/omo2c local --port $(PORT) --journey $(if $(DATA_DIR),--data-dir $(DATA_DIR))

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m infra.deps --check
	$(TOOLS)/bin/sam validate --lint
	$(TOOLS)/bin/cfn-lint template.yaml

unit: $(STAMPS)/venv
	$(VENV)/bin/pytest tests/unit -q

test: lint
	$(VENV)/bin/pytest -q
ifeq ($(PY312),yes)
	PYENV_VERSION=3.12.1 $(TOOLS)/bin/sam build --cached --parallel
else
	@echo "sam build skipped: python3.12 not available (the functions' runtime)"
endif

build: $(STAMPS)/tools
	PYENV_VERSION=3.12.1 $(TOOLS)/bin/sam build --cached --parallel

deploy: build
	$(TOOLS)/bin/sam deploy --guided

bench: $(STAMPS)/venv
	$(VENV)/bin/python -m bench

openapi: $(STAMPS)/venv
	$(VENV)/bin/python -m infra.openapi
	$(VENV)/bin/python -m infra.events_schema

clean:
	rm -rf $(STAMPS) $(VENV) $(TOOLS) .aws-sam
