package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// hop is the one key every config needs; snippets that do not test sip start with it (lines 1-2).
const hop = "sip:\n  next_hop: sip:127.0.0.1:5070\n"

// problems parses src and returns its problems as "file:line:col: msg" strings.
func problems(t *testing.T, src string) ([]string, error) {
	t.Helper()
	o, err := Parse("t.yaml", []byte(src))
	if err == nil {
		t.Fatalf("Parse succeeded, want problems; options: %+v", o)
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T is not config.Errors: %v", err, err)
	}
	if o != nil {
		t.Fatalf("Parse returned options with an error")
	}
	out := make([]string, len(errs))
	for i, p := range errs {
		out[i] = p.String()
	}
	return out, err
}

func TestParseProblems(t *testing.T) {
	tests := map[string]struct {
		src   string
		class error
		want  []string
	}{
		// Decoding.
		"syntax error": {
			src:   hop + "log:\n  level: : x\n",
			class: ErrSyntax,
			want:  []string{"t.yaml:4:10: mapping values are not allowed in this context"}, // the second ':'
		},
		// yaml.v3 reports only a line, and not always the token's: the column (and line) come from
		// the text (SyntaxProblemIn).
		"syntax error: second key on a line": {
			src:   hop + "log:\n  level: info format: json\n",
			class: ErrSyntax,
			want:  []string{"t.yaml:4:21: mapping values are not allowed in this context"},
		},
		"syntax error: tab in indentation": {
			src:   hop + "log:\n  level: info\n\tformat: json\n",
			class: ErrSyntax,
			want:  []string{"t.yaml:5:1: found a tab character that violates indentation"},
		},
		"syntax error: character that cannot start a token": {
			src:   hop + "node:\n  name: @x\n",
			class: ErrSyntax,
			want:  []string{"t.yaml:4:9: found character that cannot start any token"},
		},
		"syntax error: unclosed quote": {
			src:   hop + "node:\n  name: \"x\n",
			class: ErrSyntax,
			want:  []string{"t.yaml:4:9: found unexpected end of stream"},
		},
		"syntax error: unclosed flow list": {
			src:   hop + "cpu:\n  rtp_shards: [1, 2\nlog:\n  level: info\n",
			class: ErrSyntax,
			want:  []string{"t.yaml:4:15: did not find expected ',' or ']'"},
		},
		"syntax error: key indented between two levels": {
			src:   hop + "log:\n  level: info\n format: json\n", // yaml.v3 says line 4
			class: ErrSyntax,
			want:  []string{"t.yaml:5:2: did not find expected key"},
		},
		"syntax error: list item among keys": {
			src:   "sip:\n  next_hop: sip:127.0.0.1:5070\n  trusted:\n  - 10.0.0.0/8\n  timer_c: 3m\n  - 10.1.0.0/16\n", // yaml.v3 says line 1
			class: ErrSyntax,
			want:  []string{"t.yaml:6:3: did not find expected key"},
		},
		"syntax error: key among list items": {
			src:   hop + "  trusted:\n    - 10.0.0.0/8\n    timer_c: 3m\n",
			class: ErrSyntax,
			want:  []string{"t.yaml:5:5: did not find expected '-' indicator"},
		},
		"top level list": {
			src:   "- a\n- b\n",
			class: ErrSyntax,
			want:  []string{"t.yaml:1:1: top level must be a mapping, got list"},
		},
		"second document": {
			src:   hop + "---\nnode: {name: x}\n",
			class: ErrSyntax,
			want:  []string{"t.yaml:3:1: a second YAML document is not allowed"},
		},
		"unknown top-level key": {
			src:   hop + "datadir: /tmp\n",
			class: ErrUnknownKey,
			want:  []string{`t.yaml:3:1: top level: unknown key "datadir" (did you mean "data_dir"?)`},
		},
		"unknown nested key": {
			src:   hop + "  listen:\n    - transport: udp\n      addr: 127.0.0.1:5060\n      port: 5060\n",
			class: ErrUnknownKey,
			want:  []string{`t.yaml:6:7: sip.listen[0]: unknown key "port"`},
		},
		"kebab-case key suggests snake_case": {
			src:   hop + "msrp:\n  chunk-size: 1024\n",
			class: ErrUnknownKey,
			want:  []string{`t.yaml:4:3: msrp: unknown key "chunk-size" (did you mean "chunk_size"?)`},
		},
		"duplicate key": {
			src:   hop + "log:\n  level: info\n  level: debug\n",
			class: ErrDuplicateKey,
			want:  []string{`t.yaml:5:3: log: key "level" already set at line 4`},
		},
		"merge key": {
			src:   hop + "log:\n  <<: {level: info}\n",
			class: ErrUnknownKey,
			want:  []string{"t.yaml:4:3: log: merge keys and complex keys are not supported"},
		},
		"wrong type: list for integer": {
			src:   hop + "msrp:\n  max_conns: [1, 2]\n",
			class: ErrType,
			want:  []string{"t.yaml:4:14: msrp.max_conns: expected integer, got list"},
		},
		"wrong type: string for integer": {
			src:   hop + "limits:\n  max_calls: lots\n",
			class: ErrType,
			want:  []string{`t.yaml:4:14: limits.max_calls: expected integer, got string "lots"`},
		},
		"wrong type: integer for string": {
			src:   hop + "node:\n  name: 42\n",
			class: ErrType,
			want:  []string{`t.yaml:4:9: node.name: expected string, got integer "42" (quote it)`},
		},
		"wrong type: string for boolean": {
			src:   hop + "  record_route: maybe\n",
			class: ErrType,
			want:  []string{`t.yaml:3:17: sip.record_route: expected boolean, got string "maybe"`},
		},
		"wrong type: scalar for list": {
			src:   hop + "  trusted: 10.0.0.0/8\n",
			class: ErrType,
			want:  []string{"t.yaml:3:12: sip.trusted: expected list, got string"},
		},
		"wrong type: scalar for mapping": {
			src:   hop + "log: debug\n",
			class: ErrType,
			want:  []string{"t.yaml:3:6: log: expected mapping, got string"},
		},
		"wrong type: mapping for duration": {
			src:   hop + "  t1: {ms: 500}\n",
			class: ErrType,
			want:  []string{"t.yaml:3:7: sip.t1: expected duration, got mapping"},
		},
		"duration without unit": {
			src:   hop + "  t1: 500\n",
			class: ErrDuration,
			want:  []string{`t.yaml:3:7: sip.t1: "500" has no unit (write "500ms" or "500s")`},
		},
		"duration garbage": {
			src:   hop + "msrp:\n  bind_timeout: soon\n",
			class: ErrDuration,
			want:  []string{`t.yaml:4:17: msrp.bind_timeout: "soon" is not a duration like "500ms", "30s" or "3m"`},
		},
		"duration negative": {
			src:   hop + "rtp:\n  max_duration: -3s\n",
			class: ErrDuration,
			want:  []string{`t.yaml:4:17: rtp.max_duration: "-3s" must be positive`},
		},

		// SIP.
		"sip listen empty": {
			src:   hop + "  listen: []\n",
			class: ErrRequired,
			want:  []string{"t.yaml:3:11: sip.listen: needs at least one listener"},
		},
		"sip listen bad transport": {
			src:   hop + "  listen: [{transport: sctp, addr: \"127.0.0.1:5060\"}]\n",
			class: ErrValue,
			want:  []string{`t.yaml:3:24: sip.listen[0].transport: "sctp" is not udp, tcp or tls`},
		},
		"sip listen missing transport": {
			src:   hop + "  listen:\n    - addr: 127.0.0.1:5060\n",
			class: ErrRequired,
			want:  []string{"t.yaml:4:7: sip.listen[0].transport: must be set (udp, tcp or tls)"},
		},
		"sip listen addr without port": {
			src:   hop + "  listen: [{transport: udp, addr: 127.0.0.1}]\n",
			class: ErrAddress,
			want:  []string{`t.yaml:3:35: sip.listen[0].addr: "127.0.0.1" is not IP:port`},
		},
		"sip listen addr hostname": {
			src:   hop + "  listen: [{transport: udp, addr: \"localhost:5060\"}]\n",
			class: ErrAddress,
			want:  []string{`t.yaml:3:35: sip.listen[0].addr: "localhost:5060": host must be an IP address (0.0.0.0 or :: for all)`},
		},
		"sip listen addr port out of range": {
			src:   hop + "  listen: [{transport: udp, addr: \"127.0.0.1:70000\"}]\n",
			class: ErrAddress,
			want:  []string{`t.yaml:3:35: sip.listen[0].addr: "127.0.0.1:70000": port must be 0..65535`},
		},
		"sip listen missing addr": {
			src:   hop + "  listen:\n    - transport: udp\n",
			class: ErrRequired,
			want:  []string{"t.yaml:4:7: sip.listen[0].addr: must be set to IP:port"},
		},
		"sip duplicate listen": {
			src: hop + "  listen:\n" +
				"    - {transport: udp, addr: \"127.0.0.1:5060\"}\n" +
				"    - {transport: tcp, addr: \"127.0.0.1:5060\"}\n" +
				"    - {transport: udp, addr: \"127.0.0.1:5060\"}\n",
			class: ErrConflict,
			want:  []string{"t.yaml:6:30: sip.listen[2].addr: udp 127.0.0.1:5060 overlaps sip.listen[0] (line 4)"},
		},
		"sip tls and tcp share a port": {
			src: hop + "  listen:\n" +
				"    - {transport: tcp, addr: \"0.0.0.0:5061\"}\n" +
				"    - {transport: tls, addr: \"127.0.0.1:5061\", cert: c.pem, key: k.pem}\n" +
				"  advertise: ps.example\n",
			class: ErrConflict,
			want:  []string{"t.yaml:5:30: sip.listen[1].addr: tls 127.0.0.1:5061 overlaps sip.listen[0] (line 4)"},
		},
		"sip tls without cert and key": {
			src:   hop + "  listen:\n    - transport: tls\n      addr: 127.0.0.1:5061\n",
			class: ErrRequired,
			want: []string{
				"t.yaml:4:7: sip.listen[0].cert: tls listener needs cert",
				"t.yaml:4:7: sip.listen[0].key: tls listener needs key",
			},
		},
		"sip tls without key": {
			src:   hop + "  listen:\n    - transport: tls\n      addr: 127.0.0.1:5061\n      cert: c.pem\n",
			class: ErrRequired,
			want:  []string{"t.yaml:4:7: sip.listen[0].key: tls listener needs key"},
		},
		"sip cert on udp": {
			src:   hop + "  listen:\n    - transport: udp\n      addr: 127.0.0.1:5060\n      cert: c.pem\n",
			class: ErrConflict,
			want:  []string{"t.yaml:6:7: sip.listen[0].cert: only valid for transport tls"},
		},
		"sip advertise required on wildcard": {
			src:   hop + "  listen: [{transport: udp, addr: \"0.0.0.0:5060\"}]\n",
			class: ErrRequired,
			want:  []string{"t.yaml:3:29: sip.advertise: required when sip.listen[0].addr (0.0.0.0:5060) is a wildcard address"},
		},
		"sip advertise bad host": {
			src:   hop + "  advertise: \"ps_1.example:5060\"\n",
			class: ErrAddress,
			want:  []string{`t.yaml:3:14: sip.advertise: "ps_1.example:5060" is not a host name or IP address`},
		},
		"sip advertise bad port": {
			src:   hop + "  advertise: \"ps.example:0\"\n",
			class: ErrAddress,
			want:  []string{`t.yaml:3:14: sip.advertise: "ps.example:0": port must be 1..65535`},
		},
		"sip alias bad host": {
			src:   hop + "  aliases: [\"as.ims.example\", \"as_1.example:5060\"]\n",
			class: ErrAddress,
			want:  []string{`t.yaml:3:31: sip.aliases[1]: "as_1.example:5060" is not a host name or IP address`},
		},
		"sip alias bad port": {
			src:   hop + "  aliases: [\"[2001:db8::1]:70000\"]\n",
			class: ErrAddress,
			want:  []string{`t.yaml:3:13: sip.aliases[0]: "[2001:db8::1]:70000": port must be 1..65535`},
		},
		"next_hop missing": {
			src:   "sip:\n  t1: 1s\n",
			class: ErrRequired,
			want:  []string{"t.yaml:1:1: sip.next_hop: must be set to the sip: URI of the callee domain's S-CSCF"},
		},
		"next_hop not sip": {
			src:   "sip:\n  next_hop: \"http://scscf.example\"\n",
			class: ErrURI,
			want:  []string{`t.yaml:2:13: sip.next_hop: "http://scscf.example": must be a sip: or sips: URI`},
		},
		"next_hop without host": {
			src:   "sip:\n  next_hop: \"sip:;transport=udp\"\n",
			class: ErrURI,
			want:  []string{`t.yaml:2:13: sip.next_hop: "sip:;transport=udp": has no host`},
		},
		"next_hop mistyped ipv4": {
			src:   "sip:\n  next_hop: \"sip:10.0.1:5070\"\n",
			class: ErrURI,
			want:  []string{`t.yaml:2:13: sip.next_hop: "sip:10.0.1:5070": host is not a valid IP address`},
		},
		"next_hop bad port": {
			src:   "sip:\n  next_hop: \"sip:scscf.example:99999\"\n",
			class: ErrURI,
			want:  []string{`t.yaml:2:13: sip.next_hop: "sip:scscf.example:99999": port must be 1..65535`},
		},
		"next_hop bad transport": {
			src:   "sip:\n  next_hop: \"sip:10.0.0.1;transport=sctp\"\n",
			class: ErrURI,
			want:  []string{`t.yaml:2:13: sip.next_hop: "sip:10.0.0.1;transport=sctp": transport "sctp" is not udp, tcp or tls`},
		},
		"next_hop sips over udp": {
			src:   "sip:\n  next_hop: \"sips:[2001:db8::1]:5061;transport=udp\"\n",
			class: ErrURI,
			want:  []string{`t.yaml:2:13: sip.next_hop: "sips:[2001:db8::1]:5061;transport=udp": sips: cannot use transport=udp`},
		},
		"trusted bad entries": {
			src:   hop + "  trusted: [10.0.0.0/8, 10.0.0.0/33, 192.0.2.300, \"::1\", bad]\n",
			class: ErrAddress,
			want: []string{
				`t.yaml:3:25: sip.trusted[1]: "10.0.0.0/33" is not an IP address or CIDR prefix`,
				`t.yaml:3:38: sip.trusted[2]: "192.0.2.300" is not an IP address or CIDR prefix`,
				`t.yaml:3:58: sip.trusted[4]: "bad" is not an IP address or CIDR prefix`,
			},
		},
		"t1 longer than t2": {
			src:   hop + "  t1: 5s\n  t2: 4s\n",
			class: ErrConflict,
			want:  []string{"t.yaml:4:3: sip.t2: 4s must not be shorter than sip.t1 (5s)"},
		},
		"dns server a name": {
			src:   hop + "  dns_server: dns.home1.net:53\n",
			class: ErrAddress,
			want:  []string{`t.yaml:3:15: sip.dns_server: "dns.home1.net:53" is not an IP:port (e.g. "192.0.2.53:53", "[2001:db8::53]:53")`},
		},
		"dns server without port": {
			src:   hop + "  dns_server: 192.0.2.53\n",
			class: ErrAddress,
			want:  []string{`t.yaml:3:15: sip.dns_server: "192.0.2.53" is not an IP:port (e.g. "192.0.2.53:53", "[2001:db8::53]:53")`},
		},
		"udp readers zero": {
			src:   hop + "  udp_readers: 0\n",
			class: ErrValue,
			want:  []string{"t.yaml:3:16: sip.udp_readers: must be in 1..1024, got 0"},
		},
		"capability cache_size negative": {
			src:   hop + "  capability: {cache_size: -1}\n",
			class: ErrValue,
			want:  []string{"t.yaml:3:28: sip.capability.cache_size: must be in 0..10000000, got -1"},
		},
		"capability cache_size too big": {
			src:   hop + "  capability:\n    cache_size: 10000001\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:17: sip.capability.cache_size: must be in 0..10000000, got 10000001"},
		},
		"capability ttl too short": {
			src:   hop + "  capability:\n    ttl: 30s\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:10: sip.capability.ttl: must be in 1m..720h, got 30s"},
		},
		"drain_timeout too short": {
			src:   hop + "shutdown:\n  drain_timeout: 500ms\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:18: shutdown.drain_timeout: must be in 1s..10m, got 500ms"},
		},
		"drain_timeout too long and dialog_grace too long": {
			src:   hop + "shutdown:\n  drain_timeout: 11m\n  dialog_grace: 2h\n",
			class: ErrValue,
			want: []string{"t.yaml:4:18: shutdown.drain_timeout: must be in 1s..10m, got 11m0s",
				"t.yaml:5:17: shutdown.dialog_grace: must be in 1s..1h, got 2h0m0s"},
		},
		"dialog_grace zero": {
			src:   hop + "shutdown:\n  dialog_grace: 0s\n",
			class: ErrDuration,
			want:  []string{`t.yaml:4:17: shutdown.dialog_grace: "0s" must be positive`},
		},
		"capability ttl too long": {
			src:   hop + "  capability:\n    ttl: 721h\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:10: sip.capability.ttl: must be in 1m..720h, got 721h0m0s"},
		},
		"cards max_bytes too small": {
			src:   hop + "cards:\n  max_bytes: 1000\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:14: cards.max_bytes: must be in 1024..1048576, got 1000"},
		},
		"cards max_bytes above the page limit": {
			src:   hop + "cards: {max_bytes: 1048577}\n",
			class: ErrValue,
			want:  []string{"t.yaml:3:20: cards.max_bytes: must be in 1024..1048576, got 1048577"},
		},
		"cards link schemes": {
			src:   hop + "cards:\n  link_schemes: [https, javascript, HTTPS, https, \"a b\"]\n",
			class: ErrValue,
			want: []string{
				`t.yaml:4:25: cards.link_schemes[1]: "javascript" links can run code or read local data`,
				`t.yaml:4:37: cards.link_schemes[2]: "HTTPS" is not a lowercase URL scheme`,
				`t.yaml:4:44: cards.link_schemes[3]: "https" given twice`,
				`t.yaml:4:51: cards.link_schemes[4]: "a b" is not a lowercase URL scheme`,
			},
		},
		"cards styles not a bool": {
			src:   hop + "cards:\n  styles: maybe\n",
			class: ErrType,
			want:  []string{`t.yaml:4:11: cards.styles: expected boolean, got string "maybe"`},
		},
		"cards unknown key": {
			src:   hop + "cards:\n  scripts: true\n",
			class: ErrUnknownKey,
			want:  []string{`t.yaml:4:3: cards: unknown key "scripts"`},
		},
		"clips limits": {
			src:   hop + "clips:\n  max_bytes: 100\n  max_duration: 11m\n",
			class: ErrValue,
			want: []string{
				"t.yaml:4:14: clips.max_bytes: must be in 1024..67108864, got 100",
				"t.yaml:5:17: clips.max_duration: must be in 1s..10m, got 11m0s",
			},
		},
		"capability probe not a bool": {
			src:   hop + "  capability:\n    probe: sometimes\n",
			class: ErrType,
			want:  []string{`t.yaml:4:12: sip.capability.probe: expected boolean, got string "sometimes"`},
		},
		"capability unknown key": {
			src:   hop + "  capability:\n    size: 10\n",
			class: ErrUnknownKey,
			want:  []string{`t.yaml:4:5: sip.capability: unknown key "size"`},
		},

		// MSRP.
		"msrp advertise required on wildcard": {
			src:   hop + "msrp:\n  listen: \"0.0.0.0:2855\"\n",
			class: ErrRequired,
			want:  []string{"t.yaml:4:3: msrp.advertise: required when msrp.listen (0.0.0.0:2855) is a wildcard address"},
		},
		"msrp advertise_addr required with fqdn on wildcard": {
			src:   hop + "msrp:\n  listen: \"[::]:2855\"\n  advertise: ps.example\n",
			class: ErrRequired,
			want:  []string{"t.yaml:4:3: msrp.advertise_addr: required when msrp.listen ([::]:2855) is a wildcard address and msrp.advertise is not an IP"},
		},
		"msrp advertise_addr wildcard": {
			src:   hop + "msrp:\n  advertise_addr: 0.0.0.0\n",
			class: ErrAddress,
			want:  []string{`t.yaml:4:19: msrp.advertise_addr: "0.0.0.0" is a wildcard; peers cannot reach it`},
		},
		"msrp advertise with port": {
			src:   hop + "msrp:\n  advertise: \"ps.example:2855\"\n",
			class: ErrAddress,
			want:  []string{`t.yaml:4:14: msrp.advertise: "ps.example:2855" is not a host name or IP address`},
		},
		"msrp listen bad": {
			src:   hop + "msrp:\n  listen: \":2855\"\n",
			class: ErrAddress,
			want:  []string{`t.yaml:4:11: msrp.listen: ":2855": host must be an IP address (0.0.0.0 or :: for all)`},
		},
		"chunk size too small": {
			src:   hop + "msrp:\n  chunk_size: 63\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:15: msrp.chunk_size: must be in 64..65536, got 63"},
		},
		"chunk size too large": {
			src:   hop + "msrp:\n  chunk_size: 65537\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:15: msrp.chunk_size: must be in 64..65536, got 65537"},
		},
		"msrp limits must be positive": {
			src:   hop + "msrp:\n  max_sessions: 0\n  max_header_bytes: -1\n",
			class: ErrValue,
			want: []string{
				"t.yaml:4:17: msrp.max_sessions: must be greater than 0, got 0",
				"t.yaml:5:21: msrp.max_header_bytes: must be greater than 0, got -1",
			},
		},
		"per-ip above total": {
			src:   hop + "msrp:\n  max_conns: 10\n  max_conns_per_ip: 11\n",
			class: ErrConflict,
			want:  []string{"t.yaml:5:3: msrp.max_conns_per_ip: 11 exceeds msrp.max_conns (10)"},
		},
		"outbound below two chunks": {
			src:   hop + "msrp:\n  chunk_size: 4096\n  max_outbound: 8000\n",
			class: ErrConflict,
			want:  []string{"t.yaml:5:3: msrp.max_outbound: 8000 is less than 2 × msrp.chunk_size (8192)"},
		},
		"max_fork_binds out of range": {
			src:   hop + "msrp:\n  max_fork_binds: 17\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:19: msrp.max_fork_binds: must be in 0..16, got 17"},
		},
		"max_fork_binds negative": {
			src:   hop + "msrp:\n  max_fork_binds: -1\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:19: msrp.max_fork_binds: must be in 0..16, got -1"},
		},
		"linger_max out of range": {
			src:   hop + "msrp:\n  linger_max: 500ms\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:15: msrp.linger_max: must be in 1s..5m, got 500ms"},
		},
		"session ttl below bind timeout": {
			src:   hop + "msrp:\n  bind_timeout: 30s\n  session_ttl: 10s\n",
			class: ErrConflict,
			want:  []string{"t.yaml:5:3: msrp.session_ttl: 10s is shorter than msrp.bind_timeout (30s)"},
		},
		"loops disagree with pinning": {
			src:   hop + "msrp:\n  loops: 2\ncpu:\n  msrp_loops: [0, 1, 2]\n",
			class: ErrConflict,
			want:  []string{"t.yaml:4:3: msrp.loops: 2 loops but cpu.msrp_loops pins 3"},
		},

		// RTP.
		"rtp listen not an ip": {
			src:   hop + "rtp:\n  listen: \"127.0.0.1:4000\"\n",
			class: ErrAddress,
			want:  []string{`t.yaml:4:11: rtp.listen: "127.0.0.1:4000" is not an IP address`},
		},
		"rtp port min odd": {
			src:   hop + "rtp:\n  port_min: 30001\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:13: rtp.port_min: 30001 must be even (RTP uses even ports)"},
		},
		"rtp port max odd": {
			src:   hop + "rtp:\n  port_max: 39999\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:13: rtp.port_max: 39999 must be even (RTP uses even ports)"},
		},
		"rtp port min not below max": {
			src:   hop + "rtp:\n  port_min: 40000\n  port_max: 40000\n",
			class: ErrConflict,
			want:  []string{"t.yaml:5:3: rtp.port_max: 40000 must be greater than rtp.port_min (40000)"},
		},
		"rtp port out of range": {
			src:   hop + "rtp:\n  port_min: 80\n  port_max: 70000\n",
			class: ErrValue,
			want: []string{
				"t.yaml:4:13: rtp.port_min: must be in 1024..65534, got 80",
				"t.yaml:5:13: rtp.port_max: must be in 1024..65534, got 70000",
			},
		},
		"rtp shards disagree with pinning": {
			src:   hop + "rtp:\n  shards: 1\ncpu:\n  rtp_shards: [4, 5]\n",
			class: ErrConflict,
			want:  []string{"t.yaml:4:3: rtp.shards: 1 shards but cpu.rtp_shards pins 2"},
		},

		// HTTP.
		"base_url not http": {
			src:   hop + "http:\n  base_url: \"ftp://herald.example/\"\n",
			class: ErrURI,
			want:  []string{`t.yaml:4:13: http.base_url: "ftp://herald.example/" must be an absolute http:// or https:// URL`},
		},
		"base_url relative": {
			src:   hop + "http:\n  base_url: /pages/\n",
			class: ErrURI,
			want:  []string{`t.yaml:4:13: http.base_url: "/pages/" must be an absolute http:// or https:// URL`},
		},
		"base_url without host": {
			src:   hop + "http:\n  base_url: \"https:///pages/\"\n",
			class: ErrURI,
			want:  []string{`t.yaml:4:13: http.base_url: "https:///pages/" has no host`},
		},
		"base_url with query": {
			src:   hop + "http:\n  base_url: \"https://h.example/?x=1\"\n",
			class: ErrURI,
			want:  []string{`t.yaml:4:13: http.base_url: "https://h.example/?x=1" must not carry user info, a query or a fragment`},
		},
		"base_url required on wildcard": {
			src:   hop + "http:\n  listen: \"0.0.0.0:8080\"\n",
			class: ErrRequired,
			want:  []string{"t.yaml:4:3: http.base_url: required when http.listen (0.0.0.0:8080) is a wildcard address"},
		},
		"admin_listen not an address": {
			src:   hop + "http:\n  admin_listen: localhost\n",
			class: ErrAddress,
			want:  []string{`t.yaml:4:17: http.admin_listen: "localhost" is not IP:port`},
		},
		"admin_listen is the page listener": {
			src:   hop + "http:\n  listen: 127.0.0.1:8080\n  admin_listen: 127.0.0.1:8080\n",
			class: ErrConflict,
			want:  []string{`t.yaml:5:17: http.admin_listen: 127.0.0.1:8080 is http.listen too: the admin endpoints need a listener of their own`},
		},
		"admin tls cert without key": {
			src:   hop + "http:\n  admin_tls_cert: /etc/herald/admin.crt\n",
			class: ErrRequired,
			want:  []string{`t.yaml:3:1: http.admin_tls_key: http.admin_tls_cert and http.admin_tls_key go together`},
		},
		"api token too short": {
			src:   hop + "http:\n  api:\n    read_write_tokens: [short]\n",
			class: ErrValue,
			want:  []string{`t.yaml:5:25: http.api.read_write_tokens[0]: a token must be at least 16 characters`},
		},
		"api token bad character": {
			src:   hop + "http:\n  api:\n    read_only_tokens: [\"0123456789abcdef ghi\"]\n",
			class: ErrValue,
			want:  []string{`t.yaml:5:24: http.api.read_only_tokens[0]: a token may hold only letters, digits and -._~+/= (RFC 6750 b64token)`},
		},
		"api token both roles": {
			src:   hop + "http:\n  api:\n    read_write_tokens: [0123456789abcdef]\n    read_only_tokens: [0123456789abcdef]\n",
			class: ErrConflict,
			want:  []string{`t.yaml:6:24: http.api.read_only_tokens[0]: this token is also a read-write token`},
		},

		// The rest.
		"limits max_calls zero": {
			src:   hop + "limits:\n  max_calls: 0\n",
			class: ErrValue,
			want:  []string{"t.yaml:4:14: limits.max_calls: must be greater than 0, got 0"},
		},
		"data_dir empty": {
			src:   hop + "data_dir: \"\"\n",
			class: ErrRequired,
			want:  []string{"t.yaml:3:11: data_dir: must not be empty"},
		},
		"store limits": {
			src:   hop + "store:\n  cache_mb: 0\n  miss_loads: 5000\n  gc_grace: 10s\n  gc_interval: 1ms\n",
			class: ErrValue,
			want: []string{
				"t.yaml:4:13: store.cache_mb: must be in 1..1048576, got 0",
				"t.yaml:5:15: store.miss_loads: must be in 1..4096, got 5000",
				"t.yaml:6:13: store.gc_grace: must be at least 1m (an upload is unreferenced until the write naming it), got 10s",
				"t.yaml:7:16: store.gc_interval: must be at least 1s, got 1ms",
			},
		},
		"store redis": {
			src:   hop + "store:\n  redis:\n    addrs: [\"r1:6379\", \"nope\", \"r1:6379\"]\n    master_name: m\n    cluster: true\n    timeout: 1ms\n    prefix: \"{x}\"\n    tls_cert: c.pem\n",
			class: ErrValue,
			want: []string{
				`t.yaml:5:24: store.redis.addrs[1]: "nope" is not host:port`,
				`t.yaml:5:32: store.redis.addrs[2]: "r1:6379" given twice`,
				"t.yaml:7:14: store.redis.cluster: Sentinel (master_name) and Cluster exclude each other",
				"t.yaml:8:14: store.redis.timeout: must be in 10ms..10s, got 1ms",
				`t.yaml:9:13: store.redis.prefix: "{x}": 1 to 64 of A-Z a-z 0-9 _ . : -`,
				"t.yaml:10:15: store.redis.tls_cert: tls_cert and tls_key go together",
			},
		},
		"store redis options without addrs": {
			src:   hop + "store:\n  redis:\n    master_name: m\n    sentinel_password_file: s.pass\n",
			class: ErrValue,
			want: []string{
				"t.yaml:5:18: store.redis.master_name: needs store.redis.addrs (without it the subscribers are in the bbolt file)",
				"t.yaml:6:29: store.redis.sentinel_password_file: needs store.redis.addrs (without it the subscribers are in the bbolt file)",
			},
		},
		"store redis sentinel auth without master_name": {
			src:   hop + "store:\n  redis:\n    addrs: [\"r1:6379\"]\n    sentinel_username: herald\n    sentinel_password_file: s.pass\n",
			class: ErrValue,
			want: []string{
				"t.yaml:6:24: store.redis.sentinel_username: needs store.redis.master_name (Sentinels are asked only in Sentinel mode)",
				"t.yaml:7:29: store.redis.sentinel_password_file: needs store.redis.master_name (Sentinels are asked only in Sentinel mode)",
			},
		},
		"store redis sentinel auth on a cluster": {
			src:   hop + "store:\n  redis:\n    addrs: [\"r1:6379\", \"r2:6379\"]\n    sentinel_password_file: s.pass\n",
			class: ErrValue,
			want:  []string{"t.yaml:6:29: store.redis.sentinel_password_file: needs store.redis.master_name (Sentinels are asked only in Sentinel mode)"},
		},
		"cpu duplicate and negative": {
			src:   hop + "cpu:\n  msrp_loops: [1, 2, 1, -1]\n",
			class: ErrConflict,
			want: []string{
				"t.yaml:4:22: cpu.msrp_loops[2]: cpu 1 already used by cpu.msrp_loops[0]",
				"t.yaml:4:25: cpu.msrp_loops[3]: must be in 0..4095, got -1",
			},
		},
		"log level and format": {
			src:   hop + "log:\n  level: loud\n  format: xml\n",
			class: ErrValue,
			want: []string{
				`t.yaml:4:10: log.level: "loud" is not one of debug, info, warn, error`,
				`t.yaml:5:11: log.format: "xml" is not one of text, json`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := problems(t, tc.src)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got: %q\nwant: %q", got, tc.want)
			}
			if !errors.Is(err, tc.class) {
				t.Errorf("errors.Is(err, %v) = false; err = %v", tc.class, err)
			}
		})
	}
}

// TestParseReportsEverything checks that one bad file yields every problem, in file order,
// each with its own class, and that a decode error does not cascade into validation errors.
func TestParseReportsEverything(t *testing.T) {
	src := `node:
  name: herald
  colour: blue
sip:
  listen:
    - {transport: tls, addr: "127.0.0.1:5061"}
  next_hop: "sip:"
  t1: fast
  trusted: [nope]
msrp:
  listen: "0.0.0.0:2855"
  chunk_size: 1
rtp:
  port_min: 30001
http:
  base_url: "gopher://x/"
limits:
  max_calls: -5
`
	got, err := problems(t, src)
	want := []string{
		`t.yaml:3:3: node: unknown key "colour"`,
		"t.yaml:6:7: sip.listen[0].cert: tls listener needs cert",
		"t.yaml:6:7: sip.listen[0].key: tls listener needs key",
		`t.yaml:7:13: sip.next_hop: "sip:": has no host`,
		`t.yaml:8:7: sip.t1: "fast" is not a duration like "500ms", "30s" or "3m"`,
		`t.yaml:9:13: sip.trusted[0]: "nope" is not an IP address or CIDR prefix`,
		"t.yaml:11:3: msrp.advertise: required when msrp.listen (0.0.0.0:2855) is a wildcard address",
		"t.yaml:12:15: msrp.chunk_size: must be in 64..65536, got 1",
		"t.yaml:14:13: rtp.port_min: 30001 must be even (RTP uses even ports)",
		`t.yaml:16:13: http.base_url: "gopher://x/" must be an absolute http:// or https:// URL`,
		"t.yaml:18:14: limits.max_calls: must be greater than 0, got -5",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	for _, class := range []error{ErrUnknownKey, ErrRequired, ErrURI, ErrDuration, ErrAddress, ErrValue} {
		if !errors.Is(err, class) {
			t.Errorf("errors.Is(err, %v) = false", class)
		}
	}
	if errors.Is(err, ErrSyntax) || errors.Is(err, ErrType) {
		t.Errorf("unexpected class in %v", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(want) {
		t.Errorf("Error() has %d lines, want %d", n, len(want))
	}
}

func TestParseDefaults(t *testing.T) {
	o, err := Parse("t.yaml", []byte(hop))
	if err != nil {
		t.Fatal(err)
	}
	want := &Options{
		Source:   "t.yaml",
		Warnings: []Problem{{File: "t.yaml", Line: 1, Col: 1, Msg: "sip.trusted: empty: every source address may start calls"}},
		Node:     NodeOptions{Name: "herald"},
		SIP: SIPOptions{
			Listen:     []Listener{{Transport: "udp", Addr: "127.0.0.1:5060"}, {Transport: "tcp", Addr: "127.0.0.1:5060"}},
			Advertise:  "127.0.0.1:5060",
			NextHop:    "sip:127.0.0.1:5070",
			FastPath:   true,
			T1:         Duration(500 * time.Millisecond),
			T2:         Duration(4 * time.Second),
			TimerC:     Duration(180 * time.Second),
			UDPReaders: 2,
			Capability: CapabilityOptions{CacheSize: 100000, TTL: Duration(24 * time.Hour)},
		},
		MSRP: MSRPOptions{
			Listen: "127.0.0.1:2855", Advertise: "127.0.0.1", AdvertiseAddr: "127.0.0.1", ChunkSize: 2048,
			MaxConns: 65536, MaxConnsPerIP: 65536, MaxSessions: 100000, MaxHeaderBytes: 16384,
			MaxChunkBytes: 262144, MaxOutbound: 4 << 20, MaxForkBinds: 4,
			BindTimeout: Duration(30 * time.Second), TransferTimeout: Duration(60 * time.Second),
			IdleTimeout: Duration(120 * time.Second), SessionTTL: Duration(120 * time.Second),
			LingerMax: Duration(10 * time.Second),
		},
		RTP: RTPOptions{
			Listen: "127.0.0.1", AdvertiseAddr: "127.0.0.1", PortMin: 30000, PortMax: 39998,
			MaxDuration: Duration(180 * time.Second),
		},
		HTTP:    HTTPOptions{Listen: "127.0.0.1:8080", BaseURL: "http://127.0.0.1:8080/", AdminListen: "127.0.0.1:8081"},
		DataDir: "./herald-data",
		Store:   StoreOptions{CacheMB: 256, MissLoads: 64, GCGrace: Duration(time.Hour), GCInterval: Duration(10 * time.Minute), Redis: RedisOptions{Timeout: Duration(DefaultRedisTimeout), Prefix: DefaultRedisPrefix}},
		Cards: CardOptions{MaxBytes: 256 << 10, Styles: true, Images: true, SVG: true,
			LinkSchemes: []string{"https", "tel", "sip", "sips", "mailto"}},
		Clips:    ClipOptions{MaxBytes: 4 << 20, MaxDuration: Duration(time.Minute)},
		Limits:   LimitOptions{MaxCalls: 10000, GCPercent: DefaultGCPercent, MemoryLimitMB: DefaultMemoryLimitMB, ShedQueue: DefaultShedQueue},
		Log:      LogOptions{Level: "info", Format: "text"},
		Shutdown: ShutdownOptions{DrainTimeout: Duration(20 * time.Second)},
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", o, want)
	}
}

func TestParseExplicitValuesKept(t *testing.T) {
	src := hop + `  record_route: true
  fast_path: false
  trusted: ["10.0.0.0/8"]
  t1: &t 250ms
  t2: *t
  capability: {cache_size: 0, ttl: 1m, probe: true}
msrp:
  listen: "[::]:2855"
  advertise: "2001:db8::5"
  max_conns: 100
cpu:
  msrp_loops: [2, 3]
  rtp_shards: [4]
rtp:
  listen: "::"
http:
  listen: ""
`
	o, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"record_route", o.SIP.RecordRoute, true},
		{"fast_path", o.SIP.FastPath, false},
		{"t1 via anchor", o.SIP.T1.D(), 250 * time.Millisecond},
		{"t2 via alias", o.SIP.T2.D(), 250 * time.Millisecond},
		{"capability cache off", o.SIP.Capability.CacheSize, 0},
		{"capability ttl", o.SIP.Capability.TTL.D(), time.Minute},
		{"capability probe", o.SIP.Capability.Probe, true},
		{"advertise_addr from advertise ip", o.MSRP.AdvertiseAddr, "2001:db8::5"},
		{"rtp advertise_addr from msrp", o.RTP.AdvertiseAddr, "2001:db8::5"},
		{"per-ip default follows max_conns", o.MSRP.MaxConnsPerIP, 100},
		{"loops from pinning", o.MSRP.Loops, 2},
		{"shards from pinning", o.RTP.Shards, 1},
		{"http disabled", o.HTTP.BaseURL, ""},
		{"no warnings", len(o.Warnings), 0},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestParseRedisSentinelAuth: in Sentinel mode the Sentinels' own credentials are accepted, kept
// apart from the master's, and draw no warning.
func TestParseRedisSentinelAuth(t *testing.T) {
	o, err := Parse("t.yaml", []byte(hop+`store:
  redis:
    addrs: ["10.0.0.5:26379", "10.0.0.6:26379"]
    master_name: herald
    username: app
    password_file: /etc/herald/redis.pass
    sentinel_username: watcher
    sentinel_password_file: /etc/herald/sentinel.pass
`))
	if err != nil {
		t.Fatal(err)
	}
	r := o.Store.Redis
	if r.Username != "app" || r.PasswordFile != "/etc/herald/redis.pass" || r.SentinelUsername != "watcher" ||
		r.SentinelPasswordFile != "/etc/herald/sentinel.pass" {
		t.Errorf("store.redis = %+v", r)
	}
	for _, w := range o.Warnings {
		if strings.Contains(w.String(), "store.redis") {
			t.Errorf("warning: %s", w)
		}
	}
}

func TestParseBaseURLGetsSlash(t *testing.T) {
	o, err := Parse("t.yaml", []byte(hop+"http:\n  base_url: https://herald.example/p\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o.HTTP.BaseURL, "https://herald.example/p/"; got != want {
		t.Errorf("base_url = %q, want %q", got, want)
	}
}

func TestParseEmptyFile(t *testing.T) {
	got, err := problems(t, "")
	want := []string{"t.yaml:1:1: sip.next_hop: must be set to the sip: URI of the callee domain's S-CSCF"}
	if !slices.Equal(got, want) || !errors.Is(err, ErrRequired) {
		t.Errorf("got %q (%v), want %q", got, err, want)
	}
}

func TestDefault(t *testing.T) {
	o, err := Default()
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	if len(o.Warnings) != 0 {
		t.Errorf("warnings: %v", o.Warnings)
	}
	for name, got := range map[string]string{
		"sip.listen[0]": o.SIP.Listen[0].Transport + " " + o.SIP.Listen[0].Addr,
		"sip.listen[1]": o.SIP.Listen[1].Transport + " " + o.SIP.Listen[1].Addr,
		"sip.next_hop":  o.SIP.NextHop,
		"msrp":          o.MSRP.Listen + " " + o.MSRP.Advertise + " " + o.MSRP.AdvertiseAddr,
		"http":          o.HTTP.Listen + " " + o.HTTP.BaseURL,
		"data_dir":      o.DataDir,
	} {
		want := map[string]string{
			"sip.listen[0]": "udp 127.0.0.1:5060",
			"sip.listen[1]": "tcp 127.0.0.1:5060",
			"sip.next_hop":  "sip:127.0.0.1:5070;transport=udp",
			"msrp":          "127.0.0.1:2855 127.0.0.1 127.0.0.1",
			"http":          "127.0.0.1:8080 http://127.0.0.1:8080/",
			"data_dir":      "./herald-data",
		}[name]
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestExampleParses(t *testing.T) {
	o, err := Load(filepath.Join("..", "..", "configs", "examples", "herald-prod.yaml"))
	if err != nil {
		t.Fatalf("example: %v", err)
	}
	if o.SIP.Listen[0].Addr != "0.0.0.0:5060" || o.SIP.Advertise != "ps.home1.net:5060" {
		t.Errorf("sip: %+v", o.SIP)
	}
	if o.MSRP.Advertise != "ps.home1.net" || o.MSRP.AdvertiseAddr != "192.0.2.20" {
		t.Errorf("msrp advertise: %q %q", o.MSRP.Advertise, o.MSRP.AdvertiseAddr)
	}
	if !slices.Equal(o.CPU.MSRPLoops, []int{2, 3, 4, 5}) || o.MSRP.Loops != 4 || o.RTP.Shards != 4 {
		t.Errorf("cpu pinning: %+v loops=%d shards=%d", o.CPU, o.MSRP.Loops, o.RTP.Shards)
	}
	if len(o.SIP.Trusted) != 4 || len(o.Warnings) != 0 {
		t.Errorf("trusted %v warnings %v", o.SIP.Trusted, o.Warnings)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.yaml")
	if err := os.WriteFile(path, []byte(hop+"  t1: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != path || errs[0].Line != 3 {
		t.Errorf("Load bad file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestRoundTrip marshals parsed Options back to YAML and parses them again: every key Options has
// must be accepted by Parse, and the result must be identical.
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"default", "example"} {
		t.Run(name, func(t *testing.T) {
			var o *Options
			var err error
			if name == "default" {
				o, err = Default()
			} else {
				o, err = Load(filepath.Join("..", "..", "configs", "examples", "herald-prod.yaml"))
			}
			if err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			o2, err := Parse(o.Source, out)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(o, o2) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v", o2, o)
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	p := Problem{File: "f.yaml", Line: 3, Col: 7, Msg: "x: bad", Err: ErrValue}
	if got := p.String(); got != "f.yaml:3:7: x: bad" {
		t.Errorf("String() = %q", got)
	}
	if !errors.Is(p, ErrValue) || errors.Is(p, ErrType) {
		t.Error("Problem does not unwrap to its class")
	}
	if got := (Problem{File: "f.yaml", Msg: "m"}).String(); got != "f.yaml: m" {
		t.Errorf("no-position String() = %q", got)
	}
	if got := (Duration(1500 * time.Millisecond)).String(); got != "1.5s" {
		t.Errorf("Duration.String() = %q", got)
	}
}

// TestLimitsGCDefaults: the collector settings default to DefaultGCPercent and DefaultMemoryLimitMB
// when limits leaves them out; an explicit 0 keeps Go's own (GOGC 100, no memory limit).
func TestLimitsGCDefaults(t *testing.T) {
	for name, tc := range map[string]struct {
		limits        string
		gc, memoryMiB int
	}{
		"omitted":    {limits: "", gc: DefaultGCPercent, memoryMiB: DefaultMemoryLimitMB},
		"explicit 0": {limits: "limits: {gc_percent: 0, memory_limit_mb: 0}\n", gc: 0, memoryMiB: 0},
		"set":        {limits: "limits: {gc_percent: 200, memory_limit_mb: 1024}\n", gc: 200, memoryMiB: 1024},
		"only gc":    {limits: "limits: {gc_percent: 800}\n", gc: 800, memoryMiB: DefaultMemoryLimitMB},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := Parse("t.yaml", []byte(hop+tc.limits))
			if err != nil {
				t.Fatal(err)
			}
			if o.Limits.GCPercent != tc.gc || o.Limits.MemoryLimitMB != tc.memoryMiB {
				t.Fatalf("limits %+v, want gc_percent %d memory_limit_mb %d", o.Limits, tc.gc, tc.memoryMiB)
			}
		})
	}
}

// TestLimitsShedQueue: the overload threshold defaults to DefaultShedQueue, an explicit 0 turns
// shedding off, and a negative one is refused with its path.
func TestLimitsShedQueue(t *testing.T) {
	for _, tc := range []struct {
		limits string
		want   int
		err    bool
	}{
		{"", DefaultShedQueue, false},
		{"limits: {shed_queue: 0}\n", 0, false},
		{"limits: {shed_queue: 64}\n", 64, false},
		{"limits: {shed_queue: -1}\n", 0, true},
		{"limits: {shed_queue: 5ms}\n", 0, true},
	} {
		o, err := Parse("t.yaml", []byte(hop+tc.limits))
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), "limits.shed_queue") {
				t.Errorf("%q: err %v, want one naming limits.shed_queue", tc.limits, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.limits, err)
			continue
		}
		if o.Limits.ShedQueue != tc.want {
			t.Errorf("%q: shed_queue %d, want %d", tc.limits, o.Limits.ShedQueue, tc.want)
		}
	}
}

// A first listener on port 0 (the kernel picks the port; tests and the demo) advertises its host
// alone: Herald learns the port from the socket, and the options written back parse again. It used
// to advertise "[::1]:0", which sip.advertise refuses (found by FuzzParse, input affd52e9bb94ce82).
func TestAdvertiseFromPortZeroListener(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{`[{transport: udp, addr: "127.0.0.1:0"}]`, "127.0.0.1"},
		{`[{transport: tls, addr: "[::1]:0", cert: c.pem, key: k.pem}]`, "::1"},
		{`[{transport: udp, addr: "127.0.0.1:5062"}]`, "127.0.0.1:5062"},
	} {
		o, err := Parse("t.yaml", []byte("sip:\n  next_hop: sip:192.0.2.1\n  listen: "+tc.listen+"\n"))
		if err != nil {
			t.Fatalf("%s: %v", tc.listen, err)
		}
		if o.SIP.Advertise != tc.want {
			t.Errorf("%s: advertise %q, want %q", tc.listen, o.SIP.Advertise, tc.want)
		}
		out, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse("t.yaml", out); err != nil {
			t.Errorf("%s: options written back do not parse: %v", tc.listen, err)
		}
	}
}

// An admin listener off loopback without http.admin_token_file is warned about: /metrics, /varz
// and /debug/pprof (a CPU profile or trace on demand) would answer anyone who reaches it. With a
// token file, or on loopback, no warning.
func TestAdminListenOpenWarned(t *testing.T) {
	for _, c := range []struct {
		http string
		warn bool
	}{
		{"http:\n  admin_listen: 10.20.0.5:8081\n", true},
		{"http:\n  admin_listen: 10.20.0.5:8081\n  admin_token_file: /etc/herald/admin-tokens\n", false},
		{"http:\n  admin_listen: 127.0.0.1:8081\n", false},
	} {
		o, err := Parse("t.yaml", []byte(hop+c.http))
		if err != nil {
			t.Fatal(err)
		}
		got := slices.ContainsFunc(o.Warnings, func(w Problem) bool { return strings.Contains(w.String(), "http.admin_listen") })
		if got != c.warn {
			t.Errorf("%q: warned %v, want %v (%v)", c.http, got, c.warn, o.Warnings)
		}
	}
}
