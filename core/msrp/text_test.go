package msrp

import "testing"

// naiveValidText is the bytewise definition validText's word-at-a-time check must agree with.
func naiveValidText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// TestValidTextWordwise puts every byte value at every position of texts of 1 to 24 bytes (so in the
// 8-byte words and in the tail) and compares validText with the bytewise rule.
func TestValidTextWordwise(t *testing.T) {
	fillers := map[string]byte{"ascii": 'a', "utf8": 0xc3, "tab": '\t', "space": ' ', "tilde": '~'}
	for name, fill := range fillers {
		t.Run(name, func(t *testing.T) {
			for n := 1; n <= 24; n++ {
				b := make([]byte, n)
				for pos := range n {
					for v := range 256 {
						for i := range b {
							b[i] = fill
						}
						b[pos] = byte(v)
						if got, want := validText(b), naiveValidText(b); got != want {
							t.Fatalf("validText(%q) = %v, want %v", b, got, want)
						}
					}
				}
			}
		})
	}
}

// TestKnownHeaderAnyCase: the RFC 4975 headers are recognised in any case, other names are not.
func TestKnownHeaderAnyCase(t *testing.T) {
	tests := map[string]struct {
		name string
		want uint16
	}{
		"To-Path":            {"To-Path", hToPath},
		"to-path lower":      {"to-path", hToPath},
		"FROM-PATH upper":    {"FROM-PATH", hFromPath},
		"Message-Id mixed":   {"Message-Id", hMessageID},
		"Byte-Range":         {"Byte-Range", hByteRange},
		"Content-Type":       {"content-TYPE", hContentType},
		"Success-Report":     {"Success-Report", hSuccessReport},
		"Failure-Report":     {"failure-report", hFailureReport},
		"Status":             {"STATUS", hStatus},
		"unknown 7":          {"To_Path", 0},
		"unknown":            {"Use-Path", 0},
		"fold is ASCII only": {"To\x0dPath", 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := knownHeader([]byte(tc.name)); got != tc.want {
				t.Fatalf("knownHeader(%q) = %#x, want %#x", tc.name, got, tc.want)
			}
		})
	}
}
