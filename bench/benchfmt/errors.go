package benchfmt

import "errors"

// ErrSchema is returned by Decode for a document that is not a herald-bench/v1 File.
var ErrSchema = errors.New("benchfmt: not a " + Schema + " document")
