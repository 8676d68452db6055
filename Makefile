# distmesh: `make build`, `make test`, `make demo`, `make bench`.
GO      ?= go
export CGO_ENABLED = 0

.PHONY: build test race vet demo bench clean

# BIN is where the three binaries go, side by side: distmesh (the wrapper
# and front door, in C: it starts once per compile), distmesh-node and
# distmesh-launcher.
BIN     ?= bin
CC      ?= cc
CFLAGS  ?= -O2 -Wall -Wextra
# The wrapper starts once per compile, so its start-up is paid per job on
# the client: linked with musl it costs about 0.5 ms less CPU per job than
# with glibc (see the README's benchmarks). musl-gcc when it is installed
# (Debian: musl-tools), else CC. Static: no dynamic loader to run either.
FRONT_CC ?= $(shell command -v musl-gcc 2>/dev/null || echo $(CC))
FRONT_LDFLAGS ?= -static

build:
	@mkdir -p $(BIN)
	$(FRONT_CC) $(CFLAGS) $(FRONT_LDFLAGS) -o $(BIN)/distmesh cmd/distmesh/distmesh.c
	$(GO) build -trimpath -o $(BIN)/ ./cmd/distmesh-node ./cmd/distmesh-launcher

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

# The tests start real nodes on 127.0.0.1, real SSH handshakes, real
# compilers and sandboxes; see the README for what they need.
test: build vet
	$(GO) test -count=1 -timeout 20m ./...

race: build
	$(GO) test -race -count=1 -timeout 20m ./...

demo: build
	./testdata/demo/run.sh

# Benchmarks, side by side with the peers distmesh replaces (installs
# Debian's distcc when run as root). Not timed tests: shared machines are noisy.
BENCH_CACHE ?= $(HOME)/.cache/distmesh-bench

bench: build
	@command -v distccd >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q --no-install-recommends distcc >/dev/null; } || true
	@./testdata/bench/fetch-busybox.sh "$(BENCH_CACHE)" || true
	BENCH_BUSYBOX="$$(ls $(BENCH_CACHE)/busybox_*.orig.tar.* 2>/dev/null | head -1)" \
		$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./cmd/distmesh-node/

clean:
	rm -rf bin
