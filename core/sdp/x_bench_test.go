package sdp

import (
	"fmt"
	"testing"
)

// BenchmarkParse parses the 2-m-line IMS offer (audio+video with
// preconditions) and Herald's early-session push SDP (std92Early).
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		sdp  []byte
	}{
		{"ims-offer", []byte(crlf(imsOffer))},
		{"std92-early", []byte(crlf(std92Early))},
	} {
		b.Run(fmt.Sprintf("%s/size=%db", bc.name, len(bc.sdp)), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.sdp)))
			for b.Loop() {
				if _, err := Parse(bc.sdp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshal(b *testing.B) {
	s := mustParse(b, crlf(imsOffer))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Marshal()
	}
}

func BenchmarkMSRP(b *testing.B) {
	m := mustParse(b, crlf(std93Early)).Media[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.MSRP(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddEarlySession(b *testing.B) {
	offer, early := []byte(crlf(imsOffer)), []byte(crlf(std92Early))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := AddEarlySession(TypeSDP, offer, early, "ps-b1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStripEarlySession(b *testing.B) {
	body := []byte(std93Body)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := StripEarlySession(std93CT, body); err != nil {
			b.Fatal(err)
		}
	}
}
