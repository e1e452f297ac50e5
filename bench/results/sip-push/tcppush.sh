#!/bin/bash
# tcppush.sh TAG RATE STEP ROUNDS BIN: the push flow (both cards + 199, pages fetched) with sipgo
# terminals over UDP and then with both legs over TCP (the terminals' -transport tcp and Herald's
# next hop ;transport=tcp, in a copy of push.sh's config), alternated ROUNDS times on a fresh Herald
# each run; prints each run's step line. Setup as in push.sh's header. Session 21's figures
# (sip-push/s21-tcp.txt): tcppush.sh s21 600 20s 2 /tmp/perf/herald-s21.
TAG=$1; RATE=$2; STEP=$3; ROUNDS=$4; BIN=$5
cd /tmp/perf || exit 1
sed 's|;transport=udp"|;transport=tcp"|' pcfg/herald.yaml > pcfg/herald-tcp.yaml
grep -q ';transport=tcp"' pcfg/herald-tcp.yaml || { echo "tcppush: no next_hop ;transport=udp in pcfg/herald.yaml" >&2; exit 1; }
for r in $(seq "$ROUNDS"); do
	TERMINALS=sipgo MIX=both=100 ./push.sh "$BIN" "$TAG-udp-r$r" "$RATE" "$STEP" > /dev/null 2>&1
	CFG=/tmp/perf/pcfg/herald-tcp.yaml TERMINALS=sipgo LGARGS="-transport tcp" MIX=both=100 ./push.sh "$BIN" "$TAG-tcp-r$r" "$RATE" "$STEP" > /dev/null 2>&1
done
for r in $(seq "$ROUNDS"); do
	for tp in udp tcp; do echo "$tp r$r: $(grep -h '^step' "runs/$TAG-$tp-r$r.txt")"; done
done
