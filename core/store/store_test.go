package store

import (
	"errors"
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"a": true, "0123456789abcdef": true, "alice.home-1_x": true, "alice@home1.net": true, "+12125551111": true,
		"": false, ".hidden": false, "a/b": false, "a b": false, "é": false,
		strings.Repeat("x", 64): true, strings.Repeat("x", 65): false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestIdentityErrorIs(t *testing.T) {
	var err error = &IdentityError{Identity: "alice@home1.net", Owner: "s1"}
	if !errors.Is(err, ErrIdentityTaken) || errors.Is(err, ErrConflict) {
		t.Fatalf("errors.Is wrong for %v", err)
	}
	if got, want := err.Error(), "store: identity owned by another subscriber: alice@home1.net belongs to s1"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}
