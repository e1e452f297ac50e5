package store

import (
	"testing"

	"github.com/herald-ims/herald/core/content"
)

// FuzzDecode: the record decoders never panic on a damaged file, and what decodes re-encodes to
// the same subscriber.
func FuzzDecode(f *testing.F) {
	f.Add(encodeSub(&Subscriber{ID: "a", Identities: []string{"a@x", "+1555"}, CallerCard: "c", Ringback: "ringback", PushCapable: true, Revision: 7}))
	p, _ := content.NewPage("a.html", []byte("<!doctype html><p>x</p>"))
	f.Add(encodePage(p))
	f.Add(encodeClip(&Clip{Name: "c", Parts: map[string][]byte{KindWAV: {1, 2}}}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := decodeSub(b); err == nil {
			again, err := decodeSub(encodeSub(&s))
			if err != nil || again.ID != s.ID || len(again.Identities) != len(s.Identities) || again.Revision != s.Revision {
				t.Fatalf("round trip %+v → %+v, %v", s, again, err)
			}
		}
		l := &Live{intern: map[string]string{}}
		if e, err := l.decodeEntry(b); err == nil { // the index decoder agrees with the record decoder
			s, err := decodeSub(b)
			if err != nil || s.ID != e.id || s.Identities[0] != e.base.Key || len(s.Identities) != 1+len(e.base.Identities) ||
				s.CallerCard != e.caller || s.Ringback != e.base.Ringback || s.PushCapable != e.base.PushCapable {
				t.Fatalf("index entry %+v differs from record %+v (%v)", e, s, err)
			}
		}
		_, _ = decodePage(b)
		_, _ = decodeClip("r", b)
		_ = decodeRefCount(b)
	})
}
