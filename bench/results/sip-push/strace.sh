#!/bin/bash
# strace.sh BIN TAG MIX: system calls per call. Runs push.sh at 100 calls/s for 20 s with mix MIX
# (both=100 for the push flow, plain=100 for plain forwarding), attaches strace -f -c to Herald for
# 10 s from the 8th second, and prints the count of each system call divided by the calls Herald
# took meanwhile (herald_sip_invites_total). strace slows every system call, so read the counts, not
# the times. Setup as in push.sh's header.
BIN=$1; TAG=$2; MIX=$3
cd /tmp/perf || exit 1
(MIX=$MIX ./push.sh "$BIN" "$TAG" 100 20s > /dev/null 2>&1 &)
sleep 8
HP=$(pgrep -f "$BIN serve" | head -1)
calls() { curl -s http://127.0.0.1:17090/metrics | awk '/^herald_sip_invites_total/{print $2}'; }
a=$(calls)
timeout 10 strace -f -c -p "$HP" -o "runs/$TAG.strace" 2> /dev/null
b=$(calls)
sleep 16
n=$((b - a))
echo "$TAG: $n calls; system calls per call:"
awk -v n="$n" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {printf "  %-14s %6.1f\n", $NF, $4 / n}' "runs/$TAG.strace"
