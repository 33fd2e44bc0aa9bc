# tlntsvr — build, run, test.
GO      ?= go
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Debian packages the end-to-end tests drive. (npm counts as there when the
# command is: NodeSource's nodejs bundles it and conflicts with Debian's.)
TEST_PACKAGES := inetutils-telnet telnet-ssl putty-tools expect tmux less python3 apache2-utils procps passwd util-linux iproute2 \
	nodejs npm ckermit openssl haproxy asciinema tintin++ tf5
# busybox's telnet client is only in busybox-static, which conflicts with
# Debian's busybox: it is unpacked here instead of installed.
BUSYBOX_DIR := /opt/tlntsvr-test/busybox
# The npm package telnet-client (a Node.js scripting client) is installed
# here with npm install --prefix; e2e reads TLNTSVR_NPM_DIR, this default.
NPM_DIR := /opt/tlntsvr-test/npm
NPM_TELNET_CLIENT := telnet-client@2.2.14

.PHONY: all build run test test-deps lint fuzz clean

# Both binaries, as yourself: then sudo make install needs no Go (sudo's
# PATH rarely has it).
all: binaries

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
	if command -v npm >/dev/null; then missing=$$(echo "$$missing" | sed 's/ npm\b//'); fi; \
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
	@if [ ! -f $(NPM_DIR)/node_modules/telnet-client/package.json ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "test-deps: npm telnet-client missing (run as root)"; exit 1; fi; \
		mkdir -p $(NPM_DIR) && npm install --prefix $(NPM_DIR) --no-audit --no-fund --silent $(NPM_TELNET_CLIENT); \
	fi

# staticcheck from the Go module proxy, pinned: a release that builds with
# the Go in go.mod (docs/decisions.md says why not a tool line in go.mod).
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) mod tidy -diff

# Runs each fuzz target for a bounded number of inputs (FUZZTIME each).
# A count, not a duration: with a duration Go 1.26's fuzz coordinator can
# report "context deadline exceeded" at the deadline with no failing input
# (golang/go#75804), which turned CI red. A count also does the same work on
# a fast and a slow machine. Minimizing a new input is bounded separately.
FUZZTIME ?= 100000x
FUZZMINIMIZETIME ?= 5s
fuzz:
	@set -e; for pkg in $$($(GO) list ./internal/...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
		done; done

clean:
	rm -rf bin

# ---- install, package, docs (docs/installation.md) -------------------------

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/tlntsvr
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
LOGDIR     ?= /var/log/tlntsvr
# Where install and deb build the binaries.
BUILDDIR   ?= bin
DIST       ?= dist
# nfpm from the Go module proxy, pinned (v2.46 and later need modules the
# proxy does not serve).
NFPM       ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.0
DEB_ARCH   ?= $(shell $(GO) env GOARCH)
# A Debian version must start with a digit: v1.2.3 tags give 1.2.3, an
# untagged tree 0.0~gitDATE.HASH.
DEB_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//; s/-/+/g'); \
	[ -n "$$v" ] || v=0.0~git$$(git log -1 --format=%cd.%h --date=format:%Y%m%d 2>/dev/null); echo "$${v:-0.0}")

CONF := $(SYSCONFDIR)/tlntsvr

.PHONY: binaries install uninstall deb docs

binaries:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BUILDDIR)/tlntsvr ./cmd/tlntsvr
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BUILDDIR)/tlntadmn ./cmd/tlntadmn

# Binaries, unit, man pages, docs and logrotate file; the config, an empty
# users file (0600) and a groups file (0640) only when they do not exist, so
# a reinstall keeps the admin's settings and users. DESTDIR stages it all.
install: $(BUILDDIR)/tlntsvr $(BUILDDIR)/tlntadmn
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	@# Only when missing: install -d resets an existing directory's mode,
	@# and these two are the admin's.
	[ -d $(DESTDIR)$(CONF) ] || install -d -m 0755 $(DESTDIR)$(CONF)
	[ -d $(DESTDIR)$(LOGDIR) ] || install -d -m 0750 $(DESTDIR)$(LOGDIR)
	install -m 0755 $(BUILDDIR)/tlntsvr $(BUILDDIR)/tlntadmn $(DESTDIR)$(SBINDIR)/
	sed -e '/^Exec/s|/usr/sbin/tlntsvr |$(SBINDIR)/tlntsvr |g' -e '/^Exec/s|/etc/tlntsvr/tlntsvr.yaml|$(CONF)/tlntsvr.yaml|g' \
		deploy/systemd/tlntsvr.service >$(DESTDIR)$(UNITDIR)/tlntsvr.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tlntsvr.service
	install -m 0644 deploy/systemd/tlntsvr.socket $(DESTDIR)$(UNITDIR)/tlntsvr.socket
	install -m 0644 docs/man/man8/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	@set -e; c=$(DESTDIR)$(CONF); \
	if [ ! -e $$c/tlntsvr.yaml ]; then \
		sed -e 's|/etc/tlntsvr/|$(CONF)/|g' -e 's|^audit_log: ""$$|audit_log: $(LOGDIR)/audit.log|' \
			configs/tlntsvr.yaml >$$c/tlntsvr.yaml.tmp; \
		chmod 0644 $$c/tlntsvr.yaml.tmp; mv $$c/tlntsvr.yaml.tmp $$c/tlntsvr.yaml; echo "created $$c/tlntsvr.yaml"; \
	else echo "kept $$c/tlntsvr.yaml"; fi; \
	if [ ! -e $$c/users ]; then install -m 0600 /dev/null $$c/users; echo "created $$c/users (empty, 0600)"; fi; \
	if [ ! -e $$c/groups ]; then printf 'telnet-clients:\nadministrators:\n' >$$c/groups.tmp; \
		chmod 0640 $$c/groups.tmp; mv $$c/groups.tmp $$c/groups; echo "created $$c/groups (0640)"; fi; \
	l=$(DESTDIR)$(SYSCONFDIR)/logrotate.d/tlntsvr; \
	if [ ! -e $$l ]; then sed 's|/var/log/tlntsvr/|$(LOGDIR)/|' deploy/logrotate/tlntsvr >$$l; chmod 0644 $$l; fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "Next: add a user (tlntadmn user add NAME), then start the service: systemctl enable --now tlntsvr"

# Built by install only when missing (make, as yourself, builds them fresh).
$(BUILDDIR)/tlntsvr $(BUILDDIR)/tlntadmn:
	$(MAKE) --no-print-directory binaries

# Removes what install put in place, except the config, users and groups
# files and the audit log: those are the admin's. The stop comes last: run
# from a Telnet session, it ends that session.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl disable tlntsvr.service tlntsvr.socket || true; fi
	rm -f $(DESTDIR)$(SBINDIR)/tlntsvr $(DESTDIR)$(SBINDIR)/tlntadmn $(DESTDIR)$(UNITDIR)/tlntsvr.service \
		$(DESTDIR)$(UNITDIR)/tlntsvr.socket \
		$(DESTDIR)$(SYSCONFDIR)/logrotate.d/tlntsvr
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(wildcard docs/man/man8/*.8)))
	rm -rf $(DESTDIR)$(DOCDIR)
	@echo "Kept $(DESTDIR)$(CONF) and $(DESTDIR)$(LOGDIR)."
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; systemctl stop tlntsvr.socket tlntsvr.service || true; fi

# The Debian package, into $(DIST)/: the files staged under $(DIST)/stage,
# packed by nfpm (nfpm.yaml).
deb:
	rm -rf $(DIST)/stage
	mkdir -p $(DIST)/stage/man $(DIST)/stage/doc
	$(MAKE) --no-print-directory binaries BUILDDIR=$(DIST)/stage LDFLAGS="$(LDFLAGS) -s -w"
	sed 's|^audit_log: ""$$|audit_log: /var/log/tlntsvr/audit.log|' configs/tlntsvr.yaml >$(DIST)/stage/tlntsvr.yaml
	for f in docs/man/man8/*.8; do gzip -9n <$$f >$(DIST)/stage/man/$${f##*/}.gz; done
	cp README.md docs/*.md $(DIST)/stage/doc/
	STAGE=$(DIST)/stage DEB_ARCH=$(DEB_ARCH) DEB_VERSION=$(DEB_VERSION) \
		$(NFPM) package --config nfpm.yaml --packager deb --target $(DIST)/
	rm -rf $(DIST)/stage

# Regenerates the man pages in docs/man from the cobra commands, and the
# settings table of docs/configuration.md from the config schema (a test
# fails when they are out of date).
docs:
	$(GO) test ./cmd/tlntsvr ./cmd/tlntadmn ./internal/config -run '^(TestManPages|TestConfigurationDoc)$$' -count=1 -args -update

# ---- performance (docs/performance.md) -------------------------------------
# tlntsvr side by side with inetutils and busybox telnetd, a raw relay and the bare PTY,
# in one run (bench/compare.sh). Needs root: it creates a test account and
# installs the peers from Debian packages. About 10 minutes on 2 cores;
# QUICK=1 for a run under 2; CANDIDATE=DIR adds the tlntsvr built from
# another source tree (a proposed change) to the same run; RECORD=0 leaves
# out the tlntsvr that records every session (compared with tlntsvr).
.PHONY: bench bench-scale
bench:
	QUICK=$(QUICK) CANDIDATE=$(CANDIDATE) RECORD=$(RECORD) bench/compare.sh

# One daemon holding SESSIONS (default 10 000) logged-on sessions: memory,
# echo, answers and teardown at scale (bench/scale.sh). Root; not in CI.
bench-scale:
	SESSIONS=$(SESSIONS) bench/scale.sh
