package store

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned for a subscriber, page or clip that is not stored.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a write's precondition fails: the stored revision is not
	// Precondition.IfMatch, or a record exists although Precondition.IfNoneMatch was set.
	ErrConflict = errors.New("store: revision conflict")
	// ErrIdentityTaken is returned when a subscriber names an identity another subscriber owns. The
	// error is an *IdentityError saying which identity and which owner.
	ErrIdentityTaken = errors.New("store: identity owned by another subscriber")
	// ErrInvalid is returned for a record the store refuses: no identities, an identity that is not
	// canonical (profile.Canonical), a bad ID, an unknown page or clip reference, a bad cursor or limit.
	ErrInvalid = errors.New("store: invalid record")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("store: closed")
	// ErrUnavailable is returned by a networked store (netio/redisstore) that cannot reach its
	// backend within its bound: nothing was written, and the write may be retried later.
	ErrUnavailable = errors.New("store: backend unavailable")
)

// IdentityError says which identity a write tried to take and which subscriber owns it.
// errors.Is(err, ErrIdentityTaken) holds for it.
type IdentityError struct {
	Identity string // canonical identity
	Owner    string // ID of the subscriber that owns it
}

func (e *IdentityError) Error() string {
	return fmt.Sprintf("%v: %s belongs to %s", ErrIdentityTaken, e.Identity, e.Owner)
}

// Is makes errors.Is(err, ErrIdentityTaken) true.
func (e *IdentityError) Is(target error) bool { return target == ErrIdentityTaken }
