// Package profile holds subscriber profiles: which caller card, callee card and ringback a subscriber
// has chosen, keyed by canonical identity (see Canonical).
//
// Calls look profiles up through the Store interface: the caller by P-Asserted-Identity (or From),
// the callee by Request-URI. MemStore is the in-memory implementation used to read a seed and for
// tests; herald serve uses core/store.Live, the index over the durable bbolt store.
//
// A Profile is immutable once stored: its pages are shared read-only by every call that pushes them.
// To change a subscriber, build a new Profile and Put it.
package profile

import "github.com/herald-ims/herald/core/content"

// Profile is one subscriber's choices. Nil cards and an empty Ringback mean "none".
type Profile struct {
	// Key is the subscriber's primary canonical identity.
	Key string
	// Identities are further canonical identities of the same subscriber (its tel: number beside its
	// sip: URI, say). Key need not be repeated here.
	Identities []string
	// CallerCard is shown to the people this subscriber calls (claim 1, first HTML).
	CallerCard *content.Page
	// CalleeCard is shown to the people who call this subscriber (claims 1 and 5, second HTML).
	CalleeCard *content.Page
	// Ringback names the clip played to callers (claim 2 CRBT), resolved by core/media; "" = none.
	Ringback string
	// PushCapable says the subscriber's terminal takes Herald's pushes in the early dialog: an RFC
	// 3959 early-session part in the INVITE it receives, an UPDATE offering m=message (RFC 3311, RFC
	// 4975) on the early dialog of a call it makes. Without it Herald sends such a terminal only what
	// every SIP stack tolerates (Call-Info, RFC 3261 §20.9) unless it learned otherwise (CapCache).
	// Ordinary phones do not ignore an early-session part marked handling=optional: they fail the call.
	PushCapable bool
}

// Store finds profiles by canonical identity. Implementations are safe for concurrent use.
type Store interface {
	// Lookup returns the profile stored under the canonical key, if any.
	Lookup(key string) (*Profile, bool)
}

// LookupURI canonicalises uri and looks it up in s. A uri that Canonical refuses finds nothing.
func LookupURI(s Store, uri string) (*Profile, bool) {
	key, err := Canonical(uri)
	if err != nil {
		return nil, false
	}
	return s.Lookup(key)
}

// keys returns p.Key followed by its other identities, without duplicates or empties.
func (p *Profile) keys() []string {
	out := make([]string, 0, 1+len(p.Identities))
	if p.Key != "" {
		out = append(out, p.Key)
	}
	for _, id := range p.Identities {
		dup := id == ""
		for _, k := range out {
			dup = dup || k == id
		}
		if !dup {
			out = append(out, id)
		}
	}
	return out
}
