# distmesh: `make build`, `make test`, `make demo`, `make bench`.
GO      ?= go
export CGO_ENABLED = 0
BIN     := bin/distmesh

.PHONY: build test race vet demo bench clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/distmesh

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

bench: build
	./testdata/bench/run.sh

clean:
	rm -rf bin
