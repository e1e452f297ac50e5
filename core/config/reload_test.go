package config

import (
	"reflect"
	"testing"
)

// TestRestartKeys: a reload may change the keys in Reloadable only; the others are named, in file
// order, with list elements named by their list's key.
func TestRestartKeys(t *testing.T) {
	base := hop + "  trusted: [\"10.0.0.0/8\"]\n  listen:\n    - {transport: udp, addr: \"127.0.0.1:5060\"}\n    - {transport: tls, addr: \"127.0.0.1:5061\", cert: a.pem, key: a.key}\n"
	a, err := Parse("a.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		src           string
		changed, want []string
	}{
		{"same", base, nil, nil},
		{"reloadable only", hop + "  trusted: [\"10.0.0.0/8\", \"192.0.2.1\"]\n  listen:\n    - {transport: udp, addr: \"127.0.0.1:5060\"}\n    - {transport: tls, addr: \"127.0.0.1:5061\", cert: b.pem, key: b.key}\nlog: {level: debug}\nlimits: {max_calls: 5}\nshutdown: {drain_timeout: 5s, dialog_grace: 1m}\n",
			[]string{"sip.listen.cert", "sip.listen.key", "sip.trusted", "limits.max_calls", "log.level", "shutdown.drain_timeout", "shutdown.dialog_grace"},
			[]string{"sip.listen.cert", "sip.listen.key"}},
		{"restart", hop + "  trusted: [\"10.0.0.0/8\"]\n  t1: 400ms\n  listen:\n    - {transport: udp, addr: \"127.0.0.1:5062\"}\n    - {transport: tls, addr: \"127.0.0.1:5061\", cert: a.pem, key: a.key}\nlog: {format: json}\nnode: {name: other}\n",
			[]string{"node.name", "sip.listen.addr", "sip.advertise", "sip.t1", "log.format"},
			[]string{"node.name", "sip.listen.addr", "sip.advertise", "sip.t1", "log.format"}},
		{"listener added", hop + "  trusted: [\"10.0.0.0/8\"]\n  listen:\n    - {transport: udp, addr: \"127.0.0.1:5060\"}\n",
			[]string{"sip.listen"}, []string{"sip.listen"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse("b.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if got := ChangedKeys(a, b); !reflect.DeepEqual(got, tc.changed) {
				t.Errorf("ChangedKeys = %q, want %q", got, tc.changed)
			}
			if got := RestartKeys(a, b); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RestartKeys = %q, want %q", got, tc.want)
			}
		})
	}
}
