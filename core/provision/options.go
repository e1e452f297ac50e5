package provision

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/store"
)

// Defaults applied by [New] to zero fields.
const (
	DefaultMaxJSONBytes = 64 << 10
	DefaultMaxCardBytes = content.MaxPageBytes
	DefaultMaxClipBytes = 8 << 20
	DefaultPageLimit    = store.DefaultListLimit
	MaxPageLimit        = store.MaxListLimit
	DefaultUISessionTTL = 8 * time.Hour
)

// Removed is one kind of thing a sanitiser took out of a card, counted (core/content.Removal):
// Kind is element, attribute, url, css, comment or doctype; Name the element, attribute or property;
// Element the element it was on; Detail the URL or value; Line its first occurrence.
type Removed struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Element string `json:"element,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Count   int    `json:"count"`
	Line    int    `json:"line"`
}

// Sanitizer makes an uploaded card safe: it returns the page a phone receives and what it removed.
// Its errors are classified by Options.Classify.
type Sanitizer func(name string, body []byte) (*content.Page, []Removed, error)

// Options configure an [API].
type Options struct {
	// Store holds the subscribers, pages and clips. Required. Writes through it must be visible to
	// the call path (core/store.Live), which is what makes an upload take effect without a restart.
	Store store.Store
	// Sanitize prepares uploaded cards. Required.
	Sanitize Sanitizer
	// Classify maps a Sanitize error to its code (CodeInvalidUTF8, CodeInvalidHTML, CodeBodyTooLarge,
	// CodeEmptyCard...). Nil, or a "" result, means CodeInvalidHTML.
	Classify func(error) Code
	// CheckClip decodes an uploaded ringback source of kind (store.KindWAV, KindAWB or KindH264)
	// the way calls will play it (core/media.PrepareClip) and returns why it cannot. Required.
	CheckClip func(kind string, data []byte) error
	// ReadWriteTokens and ReadOnlyTokens are the accepted bearer tokens (RFC 6750 §2.1). With none,
	// every request is refused with 401.
	ReadWriteTokens []string
	ReadOnlyTokens  []string
	// Body limits in bytes; zero takes the Default* constant.
	MaxJSONBytes int64
	MaxCardBytes int64
	MaxClipBytes int64
	// UISessionTTL is how long an operator page login lasts. Default 8 h.
	UISessionTTL time.Duration
	// Registry receives the package's metrics; nil disables them.
	Registry prometheus.Registerer
	// Logger is the base logger; the API adds component=core/provision. Nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Store == nil:
		return o, fmt.Errorf("%w: no store", ErrBadOptions)
	case o.Sanitize == nil:
		return o, fmt.Errorf("%w: no sanitizer", ErrBadOptions)
	case o.CheckClip == nil:
		return o, fmt.Errorf("%w: no clip check", ErrBadOptions)
	case o.MaxJSONBytes < 0 || o.MaxCardBytes < 0 || o.MaxClipBytes < 0 || o.UISessionTTL < 0:
		return o, fmt.Errorf("%w: negative limit", ErrBadOptions)
	}
	for _, t := range append(append([]string(nil), o.ReadWriteTokens...), o.ReadOnlyTokens...) {
		if err := checkToken(t); err != nil {
			return o, fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
	}
	if o.MaxJSONBytes == 0 {
		o.MaxJSONBytes = DefaultMaxJSONBytes
	}
	if o.MaxCardBytes == 0 {
		o.MaxCardBytes = DefaultMaxCardBytes
	}
	if o.MaxClipBytes == 0 {
		o.MaxClipBytes = DefaultMaxClipBytes
	}
	if o.UISessionTTL == 0 {
		o.UISessionTTL = DefaultUISessionTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
