# printer-forensics — one command sets up and runs each job on a fresh Debian machine.
#   make demo   set up, then scan the bundled demo image and write demo-out/report.json
#   make test   set up (apt packages + virtualenv), lint, run the whole test suite
#   make bench  benchmark pfa scan against the yara CLI and cat (see bench/README.md)

VENV ?= .venv
PY := $(VENV)/bin/python
PFA := $(VENV)/bin/pfa
# Real tools the tests build images with, and the yara CLI the benchmark compares against.
APT_PACKAGES := e2fsprogs dosfstools mtools fdisk gdisk ewf-tools sleuthkit ntfs-3g genisoimage ghostscript groff enscript yara libtiff-tools tesseract-ocr tesseract-ocr-eng chromium
DEMO_IMAGE := fixtures/demo/printer-demo.img

.PHONY: all setup apt venv demo test lint format bench clean

all: test

setup: apt venv

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test,cluster]'
	touch $@

demo: setup
	@rc=0; $(PFA) scan $(DEMO_IMAGE) -o demo-out || rc=$$?; \
	if [ $$rc -gt 1 ]; then echo "demo failed (exit $$rc)"; exit $$rc; fi; \
	echo "report written to demo-out/report.json (pfa exit $$rc: 0 clean, 1 residual or sensitive data)"

lint: venv
	$(VENV)/bin/ruff check forensics tests fixtures bench
	$(VENV)/bin/ruff format --check forensics tests fixtures bench
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff check --fix forensics tests fixtures bench
	$(VENV)/bin/ruff format forensics tests fixtures bench

test: setup lint
	@# Many tests start pfa in a child process: byte-compile once, as a pip install would, so
	@# that none of them compiles the package from source (PYTHONDONTWRITEBYTECODE may be set).
	@$(PY) -m compileall -q forensics fixtures tests > /dev/null
	@rc=0; $(VENV)/bin/pytest -q -p no:cacheprovider || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	exit $$rc

bench: setup
	$(PY) bench/bench_scan.py

clean:
	rm -rf demo-out build bench/work .pytest_cache .ruff_cache
