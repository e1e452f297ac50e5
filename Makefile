# Herald build targets. `make test` is the README's test command and what CI runs.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 60s
GO ?= go

.PHONY: build package test test-short lint fuzz fuzz-ci bench demo

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/herald ./cmd/herald

# The Debian package (dist/herald_<version>_<arch>.deb): the binary, the systemd unit, the default
# config as /etc/herald/herald.yaml (a conffile; data_dir /var/lib/herald), the herald system user
# and its data directory (configs/packaging). nfpm runs as a pinned Go module, not in go.mod.
NFPM ?= github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
DEB_ARCH ?= $(shell $(GO) env GOARCH)
# Debian versions start with a digit: a tag v1.2.3 gives 1.2.3, an untagged tree 0.0.0~git<n>.<hash>.
DEB_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && echo $${v\#v} | tr - '~' || echo 0.0.0~git$$(git rev-list --count HEAD 2>/dev/null || echo 0).$$(git rev-parse --short HEAD 2>/dev/null || echo dev))

package: build
	mkdir -p dist
	sed 's|^data_dir: .*|data_dir: /var/lib/herald|' configs/herald.yaml > dist/herald.yaml
	grep -qx 'data_dir: /var/lib/herald' dist/herald.yaml
	rm -f dist/herald_*.deb
	DEB_ARCH=$(DEB_ARCH) DEB_VERSION='$(DEB_VERSION)' $(GO) run $(NFPM) pkg --packager deb \
		--config configs/packaging/nfpm.yaml --target dist/
	@ls -l dist/*.deb

# The whole suite under the race detector (Herald's sipgo copy, netio/sipgo, is a module of its own:
# its package sip is named), the allocation checks the race detector's instrumentation skips, then
# every fuzz target for a few seconds each.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./... github.com/emiago/sipgo/sip
	$(GO) test -count=1 -run '^(TestNewID|TestHeraldParseAllocs|TestHeraldServerTxNoTimeout|TestHeraldUDPWriteAddrPort|TestHeraldWriteInt|TestHeraldParamsOneAllocation|TestHeraldTCPFastNoAlloc|TestHeraldAcceptedBytes)$$' ./core/push github.com/emiago/sipgo/sip
	$(GO) test -count=1 -run '^(TestParseAllocs|TestPushCallSDPAllocs|TestSplitBodyAllocs|TestStripEarlySessionAllocs|TestAddEarlySessionAllocs|TestParseMultipartAllocs|TestMSRPAllocs|TestPushOfferMediaAllocs|TestNewSessionAllocs|TestAnswerInactiveAllocs)$$' ./core/sdp
	$(GO) test -count=1 -run '^(TestPushCallAllocs|TestScanInviteAllocs|TestNotesNoTraceAllocs|TestMachineAllocs|TestUpdateOfferAllocs|TestNewNotifiedAllocs|TestCanonicalNoCopy)$$' ./core/callsip ./core/call ./core/push ./core/profile
	$(GO) test -count=1 -run '^(TestTargetNameNoAlloc)$$' ./core/sipfast
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
