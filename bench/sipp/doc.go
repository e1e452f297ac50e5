// Package sipp proves Herald's SIP plane against real peers: SIPp (Debian sip-tester) as the caller
// and the callee, and Kamailio as the S-CSCF between Herald and the callee, all on 127.0.0.1.
//
// The SIPp scenarios live next to this file:
//
//	uac_push.xml   caller of the push flow: 100rel, PRACK for Herald's reliable 183, the UPDATE's
//	               m=message answer, 199, ACK/BYE along the callee's route set
//	uas_early.xml  callee of the push flow: checks the multipart INVITE (early-session part), answers
//	               180 with an early-session answer (Herald strips it), then 200
//	uas_udp_card.xml uas_early.xml for a UDP-only callee (-t u1): also writes the a=path and
//	               a=file-selector it received, for the test to fetch the caller card over MSRP
//	uac_plain.xml  plain forwarding (dave calls dave: no cards), route-following stock uac
//	uac_plain_tel.xml  the same to a tel: Request-URI (RFC 3966)
//	uas_plain.xml  plain forwarding callee, Record-Route mirrored
//	uac_direct.xml, uas_direct.xml  the plain pair without the Record-Route checks, for the
//	               benchmark's floor: SIPp straight to SIPp, no proxy (sippbench target sipp-direct)
//
// Every check on Herald's messages is an <ereg check_it="true"> regular expression: SIPp fails the
// call, and exits non-zero, when one does not match.
//
// The package holds the plumbing shared by the tests and the benchmark driver (cmd sippbench): a
// Herald binary built from this module and run with a generated config, SIPp and Kamailio processes
// with their own generated files, readiness probes, process CPU time from /proc and SIPp's
// statistics file. Each process is stopped by its own pid; nothing is killed by name.
package sipp
