#!/bin/bash
# push.sh BIN TAG RATES STEP [SOAK]: start herald BIN with /tmp/perf/pcfg, run loadgen (mix $MIX, default
# both=100; extra flags in $LGARGS), sample Herald's RSS every second into /tmp/perf/runs/TAG.*.
# The terminals are loadgen's lean ones (raw UDP, no sipgo: 15-20% less generator CPU per call, and
# it keeps its schedule where the sipgo ones fall behind) unless TERMINALS=sipgo (uesim's Caller and
# Callee, as before session 11).
# Extra environment for Herald in $HENV (e.g. HENV=GOMAXPROCS=1); the environment of push.sh itself
# reaches both (GOGC=400 push.sh ... sets the generator's collector; Herald's follows its config's
# limits.gc_percent). At the end it lists the sockets with UDP drops
# (/proc/net/udp, local address in hex: 42B8 is port 17080, the generator's callee).
# Setup: go build -o /tmp/perf/loadgen ./bench/loadgen/cmd/loadgen; /tmp/perf/loadgen herald-config
# -dir /tmp/perf/pcfg -callee 127.0.0.1:17080 -herald-sip 127.0.0.1:17070 -admin 127.0.0.1:17090
# (ports below the kernel's ephemeral range, so no client socket of the run can hold them).
BIN=$1; TAG=$2; RATES=$3; STEP=$4; SOAK=${5:-0}
cd /tmp/perf
env $HENV $BIN serve -c ${CFG:-/tmp/perf/pcfg/herald.yaml} > runs/$TAG.herald.log 2>&1 &
HP=$!
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:17090/metrics && break; sleep 0.2; done
( while kill -0 $HP 2>/dev/null; do echo "$(date +%s) $(awk '/VmRSS/{print $2}' /proc/$HP/status)" >> runs/$TAG.rss; sleep 1; done ) &
SP=$!
# PROFILE_AT=N (seconds after Herald is up): Herald's heap profile, its runtime.MemStats and a 15 s
# CPU profile into runs/TAG.heap.pb, TAG.memstats, TAG.cpu.pb (go tool pprof BIN FILE).
if [ -n "${PROFILE_AT:-}" ]; then
	( sleep "$PROFILE_AT"; curl -s -o runs/$TAG.heap.pb http://127.0.0.1:17090/debug/pprof/heap
	  curl -s 'http://127.0.0.1:17090/debug/pprof/heap?debug=1' | grep -A30 '^# runtime.MemStats' > runs/$TAG.memstats
	  curl -s -o runs/$TAG.cpu.pb 'http://127.0.0.1:17090/debug/pprof/profile?seconds=15' ) &
fi
echo "load before: $(cat /proc/loadavg)" > runs/$TAG.txt
/tmp/perf/loadgen run -herald udp:127.0.0.1:17070 -callee 127.0.0.1:17080 -pid $HP -varz http://127.0.0.1:17090/metrics -mix ${MIX:-both=100} -rates $RATES -step $STEP -ramp 3s -hold 1s -soak $SOAK -stop-on-fail -1 -terminals ${TERMINALS:-lean} -json runs/$TAG.json ${LGARGS} >> runs/$TAG.txt 2>&1
echo "load after: $(cat /proc/loadavg)" >> runs/$TAG.txt
# Which sockets dropped datagrams (receive buffer full), by local address: Herald's or the generator's.
awk 'FNR > 1 && $NF > 0 {print "udp drops on", $2 ":", $NF}' /proc/net/udp /proc/net/udp6 >> runs/$TAG.txt
kill $HP; wait $HP; kill $SP 2>/dev/null
