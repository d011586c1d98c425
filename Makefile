# Build, test and demo the module. `make` alone says where to start and lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= $(shell tools/find-python.sh)
VENV ?= .venv
CHECKOV_VENV ?= .venv-checkov
URLLIB3_1_VENV ?= .venv-urllib3-1
BUILD ?= build
TERRAFORM ?= terraform
# The hashicorp/aws provider as an offline filesystem mirror, when the machine has one.
# Unset (or empty) on a machine with internet: plain `terraform init` then uses the registry.
TF_PROVIDER_MIRROR ?= $(firstword $(wildcard /opt/tf-plugins $(HOME)/.terraform.d/plugins))
# Generated cases per hypothesis test: 60 in `make test`, 1000 in `make fuzz` (derandomized:
# the same cases every run). Measured at 2000 on 2 shared cores (load 10): 12.5 min in all,
# the slowest property 307 s, past pytest's 300 s per-test timeout; 1000 halves that, and on
# 2 idle cores the whole run takes about 2 minutes (1.5 min of CPU).
FUZZ_EXAMPLES ?= 1000
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`'s pytest run (0: one process). Three on two cores,
# because the integration tests mostly wait (on Terraform, the provider's polling, the
# emulator): with two workers the cores were busy 129% of 200% (make test 14 min 09 s), with
# three 179% (10 min 58 s). Each test file stays on one worker (tests/conftest.py).
PYTEST_WORKERS ?= 3
# Flags of tools/cost/estimate.py for `make cost`, e.g. COST_ARGS="--users 10000".
COST_ARGS ?= --users 10000
# Flags of `python -m wslocal.stack` for `make stack`, e.g. STACK_ARGS="--jwt-issuer https://id.test/",
# STACK_ARGS="--backend example" (the App Runner example's app) or "--backend-url URL" (yours).
STACK_ARGS ?=
# Flags of `python -m wslocal.fanout_bench` for `make bench-fanout`, e.g. BENCH_FANOUT_ARGS="--worker real".
BENCH_FANOUT_ARGS ?=
# Flags of `python -m wslocal.demo` for `make demo`, e.g. DEMO_ARGS="--session-store".
DEMO_ARGS ?=

export TF_PROVIDER_MIRROR
export PYTHONPATH := $(CURDIR)/lambda:$(CURDIR)/local:$(CURDIR)/sdk/python/src:$(CURDIR)/clients/python/src
export PYTHONDONTWRITEBYTECODE := 1
# Terraform must never reach a real account from here; fake credentials for the emulator.
export AWS_ACCESS_KEY_ID ?= test
export AWS_SECRET_ACCESS_KEY ?= test
export AWS_DEFAULT_REGION ?= us-east-1
export AWS_REGION ?= $(AWS_DEFAULT_REGION)

BIN := $(VENV)/bin
# Programs the targets drive besides Python's: installed from the distribution's packages when
# missing and run as root with apt-get, else named in one line (tools/system-deps.sh).
TEST_NEEDS := terraform chromium redis node
DEMO_NEEDS := terraform
# Every folder of Python that ruff checks and formats.
PY_DIRS := lambda local sdk/python clients/python examples/app-runner/app tools tests
TF_MODULE_DIRS := . $(wildcard examples/minimal examples/complete examples/local examples/app-runner examples/acceptance)
TF_INIT_FLAGS := -backend=false -input=false $(if $(TF_PROVIDER_MIRROR),-plugin-dir=$(TF_PROVIDER_MIRROR))
PACKAGES := $(shell $(PYTHON) tools/build_package.py --list 2>/dev/null)

.PHONY: help venv checkov-venv package ship-packages fmt lint mypy tf-fmt tf-init tf-validate \
        tf-test checkov docs unit unit-urllib3-1 integration test test-checks \
        test-pytest test-acceptance acceptance-destroy demo demo-browser stack fuzz bench \
        bench-handler bench-replay bench-fanout sdk-wheel sdk-node-test contract clean system-deps-test \
        system-deps-demo cost

help: ## Where to start, and every target
	@echo "New here? Two commands set up what they need and run:"
	@echo "  make demo   deploy to a local AWS emulator and hold a scripted WebSocket session"
	@echo "  make test   everything CI runs, offline"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@

# lambda/, local/, the backend SDK and the Python client on the virtualenv's path (a .pth
# file, no network): `wslocal`, `ws_bridge`, `ws_bridge_backend` and `ws_bridge_client` import
# from $(BIN)/python without PYTHONPATH.
$(VENV)/.paths: $(VENV)/.installed Makefile
	printf '%s\n' "$(CURDIR)/lambda" "$(CURDIR)/local" "$(CURDIR)/sdk/python/src" "$(CURDIR)/clients/python/src" \
	  > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/apigw-websocket-bridge.pth"
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	touch $@

$(URLLIB3_1_VENV)/.installed: requirements/unit-urllib3-1.txt
	$(PYTHON) -m venv $(URLLIB3_1_VENV)
	$(URLLIB3_1_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/unit-urllib3-1.txt
	touch $@

venv: $(VENV)/.paths ## Create the development virtualenv from pinned requirements
checkov-venv: $(CHECKOV_VENV)/.installed ## Create checkov's own virtualenv (its pins clash with moto's)

package: $(VENV)/.paths ## Build the Lambda zips under build/ (deterministic)
	$(BIN)/python tools/build_package.py --out $(BUILD)

ship-packages: package ## Copy the built zips to packages/, which the module uses by default
	cp $(addprefix $(BUILD)/,$(PACKAGES)) packages/

fmt: $(VENV)/.paths ## Format Python and Terraform in place
	$(BIN)/ruff format $(PY_DIRS)
	$(BIN)/ruff check --fix $(PY_DIRS)
	$(TERRAFORM) fmt -recursive

lint: $(VENV)/.paths tf-fmt mypy ## ruff, ruff format --check, mypy --strict, terraform fmt -check
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

mypy: $(VENV)/.paths
	$(BIN)/mypy lambda/ws_bridge local/wslocal sdk/python/src/ws_bridge_backend examples/app-runner/app/example_app clients/python/src/ws_bridge_client tools

tf-fmt:
	$(TERRAFORM) fmt -check -recursive

tf-init: ## terraform init (offline through the provider mirror when there is one)
	@for dir in $(TF_MODULE_DIRS); do \
	  $(TERRAFORM) -chdir=$$dir init $(TF_INIT_FLAGS) -test-directory=tests/terraform >/dev/null \
	    || { $(TERRAFORM) -chdir=$$dir init $(TF_INIT_FLAGS) -no-color; exit 1; }; \
	done

tf-validate: tf-init ## terraform validate the root module and every example
	@for dir in $(TF_MODULE_DIRS); do \
	  echo "terraform validate $$dir"; $(TERRAFORM) -chdir=$$dir validate -no-color || exit 1; \
	done

tf-test: $(VENV)/.paths ## terraform test (mocked AWS provider, plan only); each expect_failures run trips just the rule it names
	TERRAFORM=$(TERRAFORM) $(BIN)/python tools/terraform_test.py

checkov: $(CHECKOV_VENV)/.installed ## Static security checks of the module (failed checks fail)
	$(CHECKOV_VENV)/bin/checkov --directory . --framework terraform --quiet --compact --skip-download \
	  --skip-path .venv --skip-path .venv-checkov --skip-path .venv-urllib3-1 --skip-path build --skip-path examples/local --skip-path examples/acceptance

contract: $(VENV)/.paths ## Regenerate every copy of contract/contract.json (Python, Node, the tables of docs/design.md)
	$(BIN)/python tools/contract.py --write

docs: $(VENV)/.paths ## Regenerate the terraform-docs blocks of the README and each sub-module's README
	$(BIN)/python tools/terraform_docs.py --write README.md
	@for dir in modules/*/; do $(BIN)/python tools/terraform_docs.py --write $${dir}README.md --module $$dir; done

unit: system-deps-test $(VENV)/.paths ## Python unit tests (moto in-process)
	$(BIN)/pytest tests/unit tests/sdk tests/example tests/local tests/clients tests/packaging $(PYTEST_ARGS)

sdk-node-test: system-deps-test ## The Node verifier (sdk/node) against the shared signing vectors, by node's own test runner
	node --test sdk/node/test/

sdk-wheel: $(VENV)/.paths ## Build the backend SDK's wheel into build/ (pip install build/ws_bridge_backend-*.whl)
	rm -rf sdk/python/build  # setuptools builds in place: no stale module may reach the wheel
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir $(BUILD) sdk/python

unit-urllib3-1: $(URLLIB3_1_VENV)/.installed ## Lambda unit tests against urllib3 1.26 and botocore 1.34, the Lambda runtime's
	$(URLLIB3_1_VENV)/bin/python -c 'import botocore, urllib3, sys; sys.exit(urllib3.__version__[:2] != "1." or botocore.__version__[:5] != "1.34.")'
	$(URLLIB3_1_VENV)/bin/pytest tests/unit -W 'ignore:datetime.datetime.utcnow() is deprecated:DeprecationWarning' $(PYTEST_ARGS)

integration: system-deps-test $(VENV)/.paths ## The whole stack over real WebSockets (emulator, gateway, backend)
	$(BIN)/pytest -m integration tests/integration $(PYTEST_ARGS)

# `make test` runs two lanes at once: the pytest run (on PYTEST_WORKERS workers) and the other
# checks, one after another, which mostly keep one core busy while the integration tests
# mostly wait. pytest's output is printed whole when it ends (--output-sync), each check's as
# it ends: never interleaved. The checks run in a make of their own, holding one job slot: as
# prerequisites of `test-checks`, make would start them in both slots and pytest, the longer
# lane, could only start when one of them ended (90 s late, measured).
system-deps-test: ## Install (as root with apt) or name the programs `make test` drives
	@tools/system-deps.sh $(TEST_NEEDS)

system-deps-demo:
	@tools/system-deps.sh $(DEMO_NEEDS)

test: system-deps-test $(VENV)/.paths ## Everything CI runs: lint, validate, terraform test, checkov, pytest (both urllib3 majors)
	$(MAKE) -j2 --output-sync=target test-pytest test-checks

CHECKS := lint tf-validate tf-test checkov unit-urllib3-1 sdk-node-test

test-checks: ## What `make test` runs besides `pytest tests`, one after another
	@MAKEFLAGS='$(filter-out -j% --jobserver-auth=%,$(MAKEFLAGS))' $(MAKE) $(CHECKS)

test-pytest: system-deps-test $(VENV)/.paths ## `pytest tests`, spread over PYTEST_WORKERS workers as `make test` runs it
	$(BIN)/pytest tests -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The acceptance suite (docs/acceptance.md): examples/acceptance applied to the local stack,
# or with ACCEPTANCE_REAL_AWS=1 and ACCEPTANCE_BACKEND_URL to the account the AWS settings
# name; a wire-level suite; destroy, and a check that nothing is left. `make test` runs it
# locally as part of `pytest tests`. ACCEPTANCE_DIR keeps Terraform's state where a later
# `make acceptance-destroy` finds it (CI's cleanup step).
ACCEPTANCE_DIR ?=
export ACCEPTANCE_DIR

test-acceptance: system-deps-demo $(VENV)/.paths ## Apply examples/acceptance, run the wire-level suite, destroy, check nothing is left
	$(BIN)/pytest tests/acceptance -n 0 $(PYTEST_ARGS)

acceptance-destroy: $(VENV)/.paths ## Destroy what an interrupted acceptance run kept in ACCEPTANCE_DIR
	@test -n "$(ACCEPTANCE_DIR)" || { echo "set ACCEPTANCE_DIR to the directory of the run"; exit 64; }
	$(BIN)/python tests/acceptance/harness.py destroy --workdir "$(ACCEPTANCE_DIR)"

demo: system-deps-demo $(VENV)/.paths ## Deploy to a local emulator and hold a scripted WebSocket session
	$(BIN)/python -m wslocal.demo $(DEMO_ARGS)

demo-browser: system-deps-demo $(VENV)/.paths ## The local stack for browsers and the client's demo page, until Ctrl-C
	$(BIN)/python -m wslocal.browser_demo

stack: system-deps-demo $(VENV)/.paths ## Hold the local stack up until Ctrl-C (flags: STACK_ARGS="--help")
	$(BIN)/python -m wslocal.stack $(STACK_ARGS)

fuzz: $(VENV)/.paths ## Property-based fuzzing, 1000 cases per property (about 2 min on 2 idle cores, 7 busy)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/unit -k fuzz $(PYTEST_ARGS)

bench: $(VENV)/.paths ## Load through the local stack: 2,000 connections x 2 messages, 100 in flight
	$(BIN)/python -m wslocal.bench

bench-replay: $(VENV)/.paths ## The memory replay store: 10 simulated minutes at 300 signed requests/s (nonces, memory)
	$(BIN)/python tools/bench_replay.py

bench-handler: $(VENV)/.paths ## What the handler costs, as ratios to baselines measured in the same run
	$(BIN)/python tools/bench_handler.py

bench-fanout: $(VENV)/.paths ## Fan-out through the local stack: delivered/s for 1, 2, 4, 8 workers, 20,000 subscribers, ratios to 1
	$(BIN)/python -m wslocal.fanout_bench $(BENCH_FANOUT_ARGS)

cost: ## Monthly AWS cost per service from published prices (COST_ARGS="--help" for the inputs)
	$(PYTHON) tools/cost/estimate.py $(COST_ARGS)

clean: ## Remove build output, caches and Terraform working files
	rm -rf $(BUILD) .pytest_cache .mypy_cache .ruff_cache .hypothesis sdk/python/build sdk/python/src/*.egg-info
	find . -name .terraform -type d -prune -exec rm -rf {} + ; find . -name .terraform.lock.hcl -delete
