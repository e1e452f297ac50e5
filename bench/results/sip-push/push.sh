#!/bin/bash
# push.sh BIN TAG RATES STEP: start herald BIN with /tmp/perf/pcfg, run loadgen mix both=100, sample RSS
BIN=$1; TAG=$2; RATES=$3; STEP=$4; SOAK=${5:-0}
cd /tmp/perf
$BIN serve -c ${CFG:-/tmp/perf/pcfg/herald.yaml} > runs/$TAG.herald.log 2>&1 &
HP=$!
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:47090/metrics && break; sleep 0.2; done
( while kill -0 $HP 2>/dev/null; do echo "$(date +%s) $(awk '/VmRSS/{print $2}' /proc/$HP/status)" >> runs/$TAG.rss; sleep 1; done ) &
SP=$!
echo "load before: $(cat /proc/loadavg)" > runs/$TAG.txt
/tmp/perf/loadgen run -herald udp:127.0.0.1:47070 -callee 127.0.0.1:47080 -pid $HP -varz http://127.0.0.1:47090/metrics -mix ${MIX:-both=100} -rates $RATES -step $STEP -ramp 3s -hold 1s -soak $SOAK -stop-on-fail -1 -json runs/$TAG.json >> runs/$TAG.txt 2>&1
echo "load after: $(cat /proc/loadavg)" >> runs/$TAG.txt
[ -n "$PROF" ] && true
kill $HP; wait $HP; kill $SP 2>/dev/null
