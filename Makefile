# tlntsvr — build, run, test.
GO      ?= go
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Debian packages the end-to-end tests drive.
TEST_PACKAGES := inetutils-telnet telnet-ssl putty-tools expect tmux less python3 apache2-utils procps passwd util-linux
# busybox's telnet client is only in busybox-static, which conflicts with
# Debian's busybox: it is unpacked here instead of installed.
BUSYBOX_DIR := /opt/tlntsvr-test/busybox

.PHONY: all build run test test-deps lint fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/tlntsvr ./cmd/tlntsvr

# Runs the daemon in the foreground on the loopback development config
# (configs/dev.yaml, port 2323). The first run creates configs/dev/ with a
# user "dev" and a random password, and every run prints them.
run: build
	$(GO) run ./tools/devusers configs/dev
	./bin/tlntsvr run --config configs/dev.yaml

# The whole suite, race detector on. The end-to-end tests need root (they
# create test OS accounts) and the Telnet clients, which test-deps installs.
test: test-deps
	$(GO) test -race -count=1 -timeout 20m ./...

test-deps:
	@missing=""; for p in $(TEST_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "test-deps: missing packages:$$missing (run as root, or apt-get install them)"; exit 1; fi; \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@if [ ! -x $(BUSYBOX_DIR)/bin/busybox ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "test-deps: busybox-static missing (run as root)"; exit 1; fi; \
		tmp=$$(mktemp -d) && (cd $$tmp && apt-get download busybox-static >/dev/null 2>&1) && \
		mkdir -p $(BUSYBOX_DIR) && dpkg -x $$tmp/busybox-static_*.deb $(BUSYBOX_DIR) && rm -rf $$tmp; \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Runs each fuzz target for a bounded time (FUZZTIME each).
FUZZTIME ?= 20s
fuzz:
	@set -e; for pkg in $$($(GO) list ./internal/...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; done

clean:
	rm -rf bin
