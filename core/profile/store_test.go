package profile

import (
	"fmt"
	"sync"
	"testing"
)

func TestMemStorePutLookup(t *testing.T) {
	var s MemStore // the zero value is usable
	if _, ok := s.Lookup("alice@home1.net"); ok || s.Len() != 0 {
		t.Fatal("empty store finds something")
	}
	alice := &Profile{Key: "alice@home1.net", Identities: []string{"+12125551111", "alice@home1.net", ""}}
	s.Put(alice)
	for _, k := range []string{"alice@home1.net", "+12125551111"} {
		if p, ok := s.Lookup(k); !ok || p != alice {
			t.Errorf("Lookup(%q) = %v, %v", k, p, ok)
		}
	}
	if _, ok := s.Lookup(""); ok {
		t.Error("empty identity was indexed")
	}
	if s.Len() != 1 {
		t.Errorf("Len = %d, want 1 (one subscriber, two identities)", s.Len())
	}

	// Replacing by any shared key drops every key of the old profile.
	alice2 := &Profile{Key: "+12125551111", Ringback: "classic"}
	s.Put(alice2)
	if p, ok := s.Lookup("+12125551111"); !ok || p != alice2 {
		t.Errorf("after replace: %v %v", p, ok)
	}
	if _, ok := s.Lookup("alice@home1.net"); ok {
		t.Error("stale identity of the replaced profile still resolves")
	}
	if s.Len() != 1 {
		t.Errorf("Len after replace = %d, want 1", s.Len())
	}

	// Put of the same pointer again is idempotent.
	s.Put(alice2)
	if s.Len() != 1 {
		t.Errorf("Len after re-put = %d", s.Len())
	}

	s.Put(nil)
	s.Put(&Profile{})
	if s.Len() != 1 {
		t.Errorf("nil/keyless profiles were stored: Len = %d", s.Len())
	}

	if !s.Delete("+12125551111") || s.Delete("+12125551111") || s.Len() != 0 {
		t.Errorf("Delete: Len = %d", s.Len())
	}
}

func TestLookupURI(t *testing.T) {
	s := NewMemStore()
	bob := &Profile{Key: "+12125552222"}
	s.Put(bob)
	if p, ok := LookupURI(s, `"Bob" <sip:+1-212-555-2222@ims.example;user=phone>;tag=9`); !ok || p != bob {
		t.Errorf("LookupURI = %v, %v", p, ok)
	}
	if _, ok := LookupURI(s, "garbage"); ok {
		t.Error("LookupURI of garbage found a profile")
	}
}

// TestMemStoreConcurrent runs writers and readers together; run with -race.
func TestMemStoreConcurrent(t *testing.T) {
	s := NewMemStore()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				s.Put(&Profile{Key: fmt.Sprintf("+1212555%04d", (w*500+i)%700)})
			}
		})
		wg.Go(func() {
			for i := range 2000 {
				if p, ok := s.Lookup(fmt.Sprintf("+1212555%04d", i%700)); ok && p.Key == "" {
					t.Error("profile without key")
					return
				}
				_ = s.Len()
			}
		})
	}
	wg.Wait()
	if s.Len() != 700 {
		t.Errorf("Len = %d, want 700", s.Len())
	}
}
