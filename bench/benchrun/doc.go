// Package benchrun is bench/run: one command that builds Herald and the plane tools, runs every
// plane's benchmark with its baselines in the same run (SIP: SIPp straight to SIPp and Kamailio 5.6
// as a stateful proxy; MSRP: a goroutine-per-connection server; RTP: a ticker-per-call player) and
// the whole-call sweep of the load generator (bench/loadgen) against a Herald started with a bench
// config, all on loopback, each plane under a hard time cap taken from its step plan; then it writes
// bench/results/<plane>.json (bench/benchfmt) and draws bench/results/REPORT.md with SVG plots and the
// README's "Measured" table from those files alone ([Report]).
//
// While it runs it prints one progress line per second on stderr: elapsed time against the planned
// bound, the plane, and the last line its tool printed.
package benchrun
