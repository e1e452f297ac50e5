# Herald build targets. `make test` is the README's test command and what CI runs.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 60s
GO ?= go

.PHONY: build test test-short lint fuzz fuzz-ci bench demo

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/herald ./cmd/herald

# The whole suite under the race detector, then every fuzz target for a few seconds each.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...
	$(MAKE) fuzz-ci

test-short:
	$(GO) test -short -count=1 ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Long fuzzing for developers: every FuzzXxx target for $(FUZZTIME).
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./.ci/fuzz

# CI fuzzing: a short run of each target.
fuzz-ci:
	$(MAKE) fuzz FUZZTIME=10s

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./core/... ./netio/...

demo:
	$(GO) run ./cmd/herald demo
