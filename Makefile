# nstui: `make run` starts the TUI, `make test` runs the whole suite. Both build .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
ROOT   := $(shell id -u 2>/dev/null)
# Debian tools the tests compare against or drive (installed by `make test` when root):
# util-linux (lsns, unshare, nsenter), cgroup-tools (cgget/cgset, lssubsys), iproute2 (ip),
# dmsetup, procps (ps), and what ../shared/tools/v2vm needs to boot its guest.
TEST_DEBS := util-linux cgroup-tools iproute2 dmsetup procps passwd \
             qemu-system-x86 linux-image-amd64 busybox-static kmod cpio
V2VM   := ../shared/tools/v2vm

.PHONY: run test test-host test-v2 test-deps venv screenshots bench reliability lint clean

run: $(VENV)/.installed
	$(VENV)/bin/nstui

venv: $(VENV)/.installed

# A fresh Debian has python3 without ensurepip: install python3-venv when root.
$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); \
	  if [ "$(ROOT)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv && \
	    $(PYTHON) -m venv $(VENV); \
	  else echo "make: python3 -m venv failed; install python3-venv (apt-get install python3-venv)" >&2; exit 1; fi; }

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[test]'
	touch $@

# Installs only what is missing, so repeated runs make no network calls.
test-deps: $(VENV)/.test-installed
	@if [ "$(ROOT)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(TEST_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  fi; \
	fi

# The whole suite: the host tests, then (as root, where the guest can boot) the cgroup
# tests again in the pure-v2 guest. `make test-host` / `make test-v2` run one part.
test: test-host
	@if [ "$(ROOT)" = 0 ]; then $(MAKE) --no-print-directory test-v2; \
	  elif [ "$${NSTUI_STRICT_ROOT:-}" = 1 ]; then \
	    echo "make test: the cgroup-v2 guest run needs root (NSTUI_STRICT_ROOT=1)"; exit 1; \
	  else echo "make test: the cgroup-v2 guest run needs root; skipped (make test-v2)"; fi

test-host: test-deps
	$(PY) -m pytest

# The cgroup tests again, live, inside a throwaway pure-cgroup-v2 guest kernel, with a small
# scratch disk attached as /dev/vda so io.max has a block device to limit.
test-v2: test-deps
	@img=$$(mktemp /tmp/nstui-v2disk.XXXXXX) && truncate -s 16M "$$img" && \
	  V2VM_DISK="$$img" $(V2VM) '$(PY) -m pytest -q -p no:cacheprovider -m "not slow" tests/cgroups tests/hierarchy'; \
	  rc=$$?; rm -f "$$img"; exit $$rc

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff format --check nstui tests benchmarks
	$(VENV)/bin/ruff check nstui tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

screenshots: $(VENV)/.test-installed
	$(PY) -m nstui.ui.screenshots screenshots

bench: $(VENV)/.installed
	$(PY) benchmarks/scan.py

reliability: test-deps
	$(PY) benchmarks/reliability.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
