// Package config loads Herald's YAML configuration.
//
// The pipeline follows nats-server's: decode → defaults → validate → immutable *Options.
//
//   - Decode walks the yaml.Node tree itself (go.yaml.in/yaml/v3), so that every unknown key, wrong type,
//     bad duration or duplicate key is reported with its own file:line:col, and all of them at once.
//   - Defaults fill every key that the file does not set (an explicit zero is kept, and then validated).
//   - Validation checks each value (addresses, URIs, CIDRs, ranges) and the cross-field rules, reporting
//     each problem at the position of the key that causes it.
//
// Parse never stops at the first problem: its error is an Errors holding every Problem, sorted by
// position. Each Problem wraps one of the sentinel errors in errors.go, so callers and tests can use
// errors.Is on the whole set.
//
// The returned *Options is never modified after Parse returns and may be shared by every goroutine;
// treat its slices as read-only. A reload builds a new *Options and applies the difference.
//
// Keys are snake_case. The annotated reference is configs/examples/herald-prod.yaml; the embedded
// default (configs/herald.yaml) listens on 127.0.0.1 only.
package config
