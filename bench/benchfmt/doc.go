// Package benchfmt is the one result format of Herald's bench suite ("herald-bench/v1"): a File per
// plane (bench/results/<plane>.json) with the machine, the Go version, the commit, the load average
// before and after and the exact command, and per target (Herald or a baseline) a list of load steps
// with their measurements.
//
// The plane tools (bench/sipp/sippbench, bench/msrpbench/cmd/msrpbench, bench/rtpbench) write a File
// with -json; bench/run (bench/cmd/benchrun) collects them, converts the whole-call generator's own
// output (bench/loadgen), and draws the report from the Files alone, so a report can be redrawn from
// committed JSON without rerunning anything.
//
// Measurements are a flat map from a metric name to a number. A name ends in its unit (_ms, _mb,
// _cps, _pct, ...) or is a count; the names each plane writes are listed in bench/README.md and as
// constants here where the report reads them.
package benchfmt
