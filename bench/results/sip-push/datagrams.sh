#!/bin/bash
# datagrams.sh BIN: count the SIP datagrams one call puts through Herald (tshark on loopback), for a
# plain call and for a push call with both cards (loadgen mixes plain=100 and both=100, two calls
# each). Setup as push.sh's (/tmp/perf/loadgen, /tmp/perf/pcfg on 127.0.0.1:17070/17080/17090).
BIN=${1:-/tmp/perf/herald-new}
mkdir -p /tmp/perf/runs
for MIX in plain both; do
  pcap=/tmp/perf/runs/dg-$MIX.pcap
  timeout 14 tshark -i lo -f "udp port 17070" -w $pcap >/dev/null 2>&1 &
  TP=$!
  sleep 2
  $BIN serve -c /tmp/perf/pcfg/herald.yaml >/dev/null 2>&1 &
  HP=$!
  sleep 1
  /tmp/perf/loadgen run -herald udp:127.0.0.1:17070 -callee 127.0.0.1:17080 -mix $MIX=100 -rates 1 \
    -step 2s -ramp 0 -hold 1s -stop-on-fail -1 -json /dev/null >/dev/null 2>&1
  sleep 3
  kill $HP; wait $TP 2>/dev/null
  n=$(tshark -r $pcap -Y sip 2>/dev/null | wc -l)
  calls=$(tshark -r $pcap -Y 'sip.Method == "INVITE" && udp.dstport == 17070' 2>/dev/null | wc -l)
  echo "$MIX: $n SIP datagrams through Herald for $calls calls"
  tshark -r $pcap -Y sip -T fields -e udp.srcport -e udp.dstport -e sip.Method -e sip.Status-Code 2>/dev/null
done
