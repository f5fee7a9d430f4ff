# LiveTranslate: the two commands a new user needs are `make demo` and `make test`.
# Everything else here is for developers. Installation output goes to stderr, so that
# `make demo JSON=1` prints nothing but JSON on stdout.

SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= uv
PYTEST_ARGS ?=

# System packages the project needs: a JDK and Maven (Kafka's jars come from Maven Central),
# the PostgreSQL server, espeak-ng and sox (test speech), libsndfile (audio decoding),
# Chromium (the web page's test drives it with Playwright).
APT_PACKAGES := default-jdk-headless maven postgresql espeak-ng sox libsndfile1 chromium

.PHONY: help
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: bootstrap
bootstrap:  ## install what the project needs (system packages, uv, Python packages)
	@{ \
	  missing=""; \
	  command -v java >/dev/null || missing="$$missing default-jdk-headless"; \
	  command -v mvn >/dev/null || missing="$$missing maven"; \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	  command -v sox >/dev/null || missing="$$missing sox"; \
	  command -v chromium >/dev/null || missing="$$missing chromium"; \
	  if [ -n "$$missing" ]; then \
	    if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	      echo "installing system packages:$$missing"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	    else \
	      echo "missing system packages:$$missing"; \
	      echo "install them (Debian/Ubuntu: sudo apt-get install$$missing), or point the"; \
	      echo "project at an existing Kafka and PostgreSQL with KAFKA_BOOTSTRAP_SERVERS and"; \
	      echo "DATABASE_URL (then only Python is needed)"; \
	      exit 1; \
	    fi; \
	  fi; \
	  command -v $(UV) >/dev/null || python3 -m pip install --quiet uv; \
	  $(UV) sync --frozen --quiet; \
	} >&2

.PHONY: demo
demo: bootstrap  ## start the stack, transcribe a sample (AUDIO=file JSON=1 LIVE=1 TRANSLATE=en,es SPEAKERS=SPEAKER_00=Alice)
	@$(UV) run --frozen python -m livetranslate_gateway.demo \
		$(if $(AUDIO),--audio "$(AUDIO)") $(if $(filter 1 true yes,$(JSON)),--json) \
		$(if $(filter 1 true yes,$(LIVE)),--live) $(if $(TRANSLATE),--translate "$(TRANSLATE)") \
		$(if $(SPEAKERS),--speaker-names "$(SPEAKERS)")

.PHONY: test
test: bootstrap  ## run the whole test suite on real Kafka, PostgreSQL and Whisper
	$(UV) run --frozen pytest $(PYTEST_ARGS)

.PHONY: bench
bench: bootstrap  ## print the performance figures
	$(UV) run --frozen python -m benchmarks.run

.PHONY: lint
lint: bootstrap  ## ruff, formatting, mypy, generated code up to date
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen python -m livetranslate_schemas.codegen --check

.PHONY: format
format:  ## apply ruff's fixes and formatting
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

.PHONY: schemas
schemas:  ## regenerate the Python records from schemas/*.avsc
	$(UV) run python -m livetranslate_schemas.codegen

.PHONY: stack-up stack-down stack-status
stack-up: bootstrap  ## start Kafka, PostgreSQL and the services in the background
	$(UV) run --frozen livetranslate-stack up
stack-down:  ## stop the local stack
	$(UV) run --frozen livetranslate-stack down
stack-status:  ## what runs and where it logs
	$(UV) run --frozen livetranslate-stack status

.PHONY: clean
clean:  ## stop the stack and delete its data (.stack/)
	-$(UV) run --frozen livetranslate-stack down
	rm -rf .stack .mypy_cache .ruff_cache .pytest_cache
