package store

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/herald-ims/herald/core/profile"
)

// TestImportIPv6Identity: a seed subscriber whose primary identity has an IPv6 host (sip:user@[addr],
// RFC 3261 §25.1) is imported, under an ID the API can carry, and found by that identity in any
// spelling of the address; a second import replaces it. Before, the canonical identity
// "bob@[2001:db8::10]" was taken as the ID, refused (ErrInvalid), and Herald did not start.
func TestImportIPv6Identity(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	seed := fstest.MapFS{"profiles.yaml": {Data: []byte(
		"- identities: [\"sip:bob@[2001:DB8:0::10]\", \"tel:+1-212-555-0110\"]\n  ringback: ringback\n" +
			"- identities: [\"sip:erin@home1.net\"]\n  ringback: ringback\n")}}
	for range 2 {
		if n, err := Import(ctx, s, seed); err != nil || n != 2 {
			t.Fatalf("Import = %d, %v", n, err)
		}
	}
	if n, _ := s.Count(ctx); n != 2 {
		t.Fatalf("Count = %d after two imports, want 2", n)
	}
	bob, err := s.Resolve(ctx, "sip:bob@[2001:db8::10]:5060")
	if err != nil || bob.Ringback != "ringback" {
		t.Fatalf("bob by his IPv6 identity: %+v, %v", bob, err)
	}
	key, _ := profile.Canonical("sip:bob@[2001:db8::10]")
	if !ValidID(bob.ID) || bob.ID != importID(key) || len(bob.Identities) != 2 || bob.Identities[0] != key {
		t.Fatalf("bob = %+v, want ID %s and primary identity %s", bob, importID(key), key)
	}
	if got, err := s.Get(ctx, bob.ID); err != nil || got.ID != bob.ID {
		t.Fatalf("bob by ID %s: %+v, %v", bob.ID, got, err)
	}
	// A primary identity that is a valid ID stays the ID.
	if erin, err := s.Get(ctx, "erin@home1.net"); err != nil || erin.Identities[0] != "erin@home1.net" {
		t.Fatalf("erin = %+v, %v", erin, err)
	}
}
