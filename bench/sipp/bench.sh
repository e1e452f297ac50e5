#!/bin/sh
# SIP-plane benchmark: SIPp against Herald (plain forwarding, full push flow) and Kamailio (stateful
# record-routing proxy, same plain scenario), in one run of at most about 3 minutes.
# Needs sipp (Debian sip-tester) and kamailio. Extra flags go to sippbench, e.g.
#   bench/sipp/bench.sh -targets herald-plain -step 5s
# Results: a Markdown table on stdout, one line per step
# on stderr; -json FILE writes the bench suite's format. bench/run runs this with the other planes.
set -eu
cd "$(dirname "$0")/../.."
exec go run ./bench/sipp/sippbench "$@"
