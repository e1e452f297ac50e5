package sipfast

import (
	"encoding/binary"
	"testing"
)

// SipHash-2-4 against the paper's vectors (key 00 01 .. 0f; messages 00 01 .. of length 0, 8 and
// 15: the last is the paper's worked example, Appendix A).
func TestSipHash24(t *testing.T) {
	var key [16]byte
	msg := make([]byte, 64)
	for i := range key {
		key[i] = byte(i)
	}
	for i := range msg {
		msg[i] = byte(i)
	}
	k0, k1 := binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:])
	for _, tc := range []struct {
		n    int
		want uint64
	}{
		{0, 0x726fdb47dd0e0e31},
		{8, 0x93f5f5799a932462},
		{15, 0xa129ca6149be45e5},
	} {
		if got := sipHash24(k0, k1, msg[:tc.n]); got != tc.want {
			t.Errorf("%d bytes: %#x, want %#x", tc.n, got, tc.want)
		}
	}
	if a := testing.AllocsPerRun(100, func() { sipHash24(k0, k1, msg[:8]) }); a != 0 {
		t.Errorf("%.0f allocations", a)
	}
}
