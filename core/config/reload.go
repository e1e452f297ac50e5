package config

import (
	"reflect"
	"slices"
)

// Reloadable lists the keys a running Herald takes on SIGHUP (cmd/herald reload); every other key
// needs a restart. A reload that changes any other key is rejected as a whole.
//
//	log.level                     the level of every logger
//	limits.max_calls              new calls only
//	limits.gc_percent, limits.memory_limit_mb
//	sip.trusted                   new calls only
//	sip.next_hop                  new calls only; calls in progress keep theirs
//
// The certificates and keys of the TLS listeners (sip.listen[i].cert and .key, msrp.tls_cert and
// .tls_key) are read again on every reload, from the same files: renew them in place; naming other
// files needs a restart.
//
//	shutdown.drain_timeout, shutdown.dialog_grace
//	http.api.read_write_tokens, http.api.read_only_tokens, http.api.tokens_file
//	                              the provisioning API's tokens; the tokens file is read again on
//	                              every reload (rotate tokens in place); a changed set ends every
//	                              operator page session
//	http.admin_token_file         the tokens /metrics, /varz and pprof require; read again on
//	                              every reload
//
// Needing a restart: node.name, every other sip.* key (listen addresses and transports,
// advertise, record_route, fast_path, t1, t2, timer_c, udp_readers, tls_client_*, capability.*),
// every other msrp.* key, rtp.*, every other http.* key, data_dir, seed (the store owns the subscribers; the seed
// only fills an empty one), cpu.*, log.format and log.trace.
var Reloadable = []string{
	"log.level", "limits.max_calls", "limits.gc_percent", "limits.memory_limit_mb", "sip.trusted",
	"sip.next_hop",
	"shutdown.drain_timeout", "shutdown.dialog_grace",
	"http.api.read_write_tokens", "http.api.read_only_tokens", "http.api.tokens_file",
	"http.admin_token_file",
}

// ChangedKeys lists the keys whose values differ between a and b, in file order. Elements of a
// list are named by the list's key (sip.listen.cert for any listener's cert).
func ChangedKeys(a, b *Options) []string {
	var out []string
	diffKeys("", reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), &out)
	return out
}

// RestartKeys lists the keys that differ between the running options a and the new options b and
// that a reload cannot apply (those not in Reloadable).
func RestartKeys(a, b *Options) []string {
	var out []string
	for _, k := range ChangedKeys(a, b) {
		if !slices.Contains(Reloadable, k) {
			out = append(out, k)
		}
	}
	return out
}

func diffKeys(prefix string, a, b reflect.Value, out *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := tagName(f)
		if name == "" || name == "-" {
			continue
		}
		path := join(prefix, name)
		fa, fb := a.Field(i), b.Field(i)
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type.Name() != "Duration":
			diffKeys(path, fa, fb, out)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			if fa.Len() != fb.Len() {
				*out = append(*out, path)
				continue
			}
			var sub []string
			for j := range fa.Len() {
				diffKeys(path, fa.Index(j), fb.Index(j), &sub)
			}
			for _, k := range sub {
				if !slices.Contains(*out, k) {
					*out = append(*out, k)
				}
			}
		case !reflect.DeepEqual(fa.Interface(), fb.Interface()):
			*out = append(*out, path)
		}
	}
}
