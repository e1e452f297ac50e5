package profile

import "errors"

var (
	// ErrBadIdentity is returned by Canonical for a URI or number that names no subscriber.
	ErrBadIdentity = errors.New("profile: bad identity")
	// ErrDuplicateIdentity is a seed identity that two entries (or one entry twice) claim.
	ErrDuplicateIdentity = errors.New("profile: duplicate identity")
	// ErrMissingPage is a seed card whose file is not in pages/.
	ErrMissingPage = errors.New("profile: missing page file")
	// ErrBadPage is a seed card that content.NewPage refuses; the content error is wrapped too.
	ErrBadPage = errors.New("profile: bad page")
	// ErrBadSeed is a structural problem in profiles.yaml (wrong type, unknown key, missing identities).
	ErrBadSeed = errors.New("profile: bad seed entry")
)
