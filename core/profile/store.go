package profile

import "sync"

// MemStore is an in-memory Store. It is safe for concurrent use; lookups take a read lock only.
// The zero value is an empty store ready to use.
type MemStore struct {
	mu       sync.RWMutex
	byKey    map[string]*Profile
	profiles map[*Profile]struct{}
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{byKey: make(map[string]*Profile), profiles: make(map[*Profile]struct{})}
}

// Put stores p under p.Key and each of p.Identities. A profile that held any of those keys before is
// replaced as a whole: all of its keys are dropped first, so an identity never points at a stale
// subscriber. p must not be modified afterwards. A nil p, or one without keys, is ignored.
func (s *MemStore) Put(p *Profile) {
	if p == nil {
		return
	}
	keys := p.keys()
	if len(keys) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey == nil {
		s.byKey = make(map[string]*Profile)
		s.profiles = make(map[*Profile]struct{})
	}
	for _, k := range keys {
		if old, ok := s.byKey[k]; ok && old != p {
			s.removeLocked(old)
		}
	}
	for _, k := range keys {
		s.byKey[k] = p
	}
	s.profiles[p] = struct{}{}
}

// Delete removes the profile stored under key, with all its identities. It reports whether one was.
func (s *MemStore) Delete(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byKey[key]
	if ok {
		s.removeLocked(p)
	}
	return ok
}

func (s *MemStore) removeLocked(p *Profile) {
	for _, k := range p.keys() {
		if s.byKey[k] == p {
			delete(s.byKey, k)
		}
	}
	delete(s.profiles, p)
}

// Lookup implements Store.
func (s *MemStore) Lookup(key string) (*Profile, bool) {
	s.mu.RLock()
	p, ok := s.byKey[key]
	s.mu.RUnlock()
	return p, ok
}

// Len returns the number of subscribers (profiles, not identities).
func (s *MemStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.profiles)
}

var _ Store = (*MemStore)(nil)

// Profiles returns every stored profile once (not once per identity), in no particular order.
func (s *MemStore) Profiles() []*Profile {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Profile, 0, len(s.profiles))
	for p := range s.profiles {
		out = append(out, p)
	}
	return out
}
