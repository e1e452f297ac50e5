package profile

import (
	"fmt"
	"testing"
)

func BenchmarkCanonical(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"form=tel", "tel:+1-212-555-2222"},
		{"form=sip", "sip:alice@home1.net"},
		{"form=name-addr-phone", `"Bob" <sip:+1-212-555-2222@ims.example;user=phone>;tag=bob-77`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Canonical(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMemStoreLookup(b *testing.B) {
	s := NewMemStore()
	keys := make([]string, 100000)
	for i := range keys {
		keys[i] = fmt.Sprintf("+1212%07d", i)
		s.Put(&Profile{Key: keys[i]})
	}
	b.ReportAllocs()
	b.ResetTimer() // exclude the 100k Puts above
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := s.Lookup(keys[i%len(keys)]); !ok {
				b.Fail()
			}
			i += 7919
		}
	})
}
