package store

import (
	"context"

	"github.com/herald-ims/herald/core/content"
)

// Subscriber is one stored subscriber. Values are copies: changing one changes nothing stored.
type Subscriber struct {
	// ID names the record in the API (/subscribers/{id}). It is chosen by the writer or, when empty
	// on a create, assigned by the store (16 lowercase hex digits). See ValidID.
	ID string `json:"id"`
	// Identities are the subscriber's canonical identities (profile.Canonical), at least one, no
	// duplicates; the first is the primary one (profile.Profile.Key). An identity belongs to at most
	// one subscriber.
	Identities []string `json:"identities"`
	// CallerCard and CalleeCard are page references returned by PutPage; "" means none.
	CallerCard string `json:"caller_card,omitempty"`
	CalleeCard string `json:"callee_card,omitempty"`
	// Ringback is "" (none), a clip reference returned by PutClip, or the name of a clip built into
	// the binary ("ringback"). A reference is checked on write; a name is resolved at call time and a
	// missing one is counted (herald_store_clip_missing_total) and logged.
	Ringback string `json:"ringback,omitempty"`
	// PushCapable marks a terminal that takes Herald's early-dialog pushes (profile.Profile.PushCapable).
	PushCapable bool `json:"push_capable"`
	// Revision is set by the store on every write: a store-wide, strictly increasing number, so a
	// deleted and re-created subscriber never repeats an old revision. Use it as the ETag.
	Revision uint64 `json:"revision"`
}

// Precondition guards a write (HTTP If-Match / If-None-Match). The zero value writes unconditionally:
// Put creates or replaces, Delete deletes whatever revision is stored.
type Precondition struct {
	// IfMatch, when not 0, requires the stored record to have this Revision: ErrConflict otherwise,
	// ErrNotFound when there is no record.
	IfMatch uint64
	// IfNoneMatch requires that no record with the ID exists (create only): ErrConflict otherwise.
	IfNoneMatch bool
}

// Clip kinds: the source formats a ringback clip can be uploaded in (core/media decodes each).
const (
	KindWAV  = "wav"  // RIFF WAV, 8 kHz 16-bit mono PCM: G.711 PCMU and PCMA are made from it
	KindAWB  = "awb"  // AMR-WB storage format (RFC 4867 §5): octet-aligned and bandwidth-efficient
	KindH264 = "h264" // H.264 Annex-B elementary stream, packetised at 15 fps for a 1200-byte MTU
)

// Clip is one immutable ringback clip version: up to one source per kind. A call chooses the part
// its offer can play (media.Clip.Choose).
type Clip struct {
	// Ref is the content address, set by PutClip and returned by GetClip: hex SHA-1 over Name and
	// the parts in kind order.
	Ref  string `json:"ref"`
	Name string `json:"name"` // display name, for logs and the API; need not be unique
	// Parts maps a kind (KindWAV, KindAWB, KindH264) to the bytes stored for it: what the upload
	// pipeline (core/media) accepted. The slices are shared and must not be modified.
	Parts map[string][]byte `json:"-"`
}

// PageInfo describes one stored page version without its bytes.
type PageInfo struct {
	Ref     string `json:"ref"`     // content address, see PutPage
	Name    string `json:"name"`    // a=file-selector name
	Version string `json:"version"` // hex SHA-1 of the body (content.Page.Version)
	Size    int    `json:"size"`    // body bytes
}

// Store is Herald's durable subscriber store. Implementations are safe for concurrent use.
//
// Every write returns only once it is durable (for Bolt: committed and fsync'd); a write that returns
// an error changed nothing. Reads see every write that has returned. Every method honours ctx only
// before it starts: a write that has begun is finished, so its result is never unknown to a caller
// that waits for it.
type Store interface {
	// Get returns the subscriber with this ID, or ErrNotFound.
	Get(ctx context.Context, id string) (Subscriber, error)
	// Resolve returns the subscriber owning the identity, given raw (it is canonicalised with
	// profile.Canonical; ErrInvalid if that refuses it), or ErrNotFound.
	Resolve(ctx context.Context, identity string) (Subscriber, error)
	// Put creates or replaces the subscriber sub.ID (a new random ID when empty) under pre and
	// returns the stored record with its new Revision. Identities are canonicalised and
	// de-duplicated in order. Errors: ErrInvalid (see its doc), *IdentityError, ErrConflict and
	// ErrNotFound (IfMatch on a missing record). Page and clip references must name stored versions.
	Put(ctx context.Context, sub Subscriber, pre Precondition) (Subscriber, error)
	// Delete removes the subscriber with this ID and frees its identities. Errors: ErrNotFound,
	// ErrConflict (pre.IfMatch differs from the stored revision).
	Delete(ctx context.Context, id string, pre Precondition) error
	// List returns up to limit subscribers (1..MaxListLimit; 0 means DefaultListLimit) in ID order
	// after cursor ("" = from the start), and the cursor of the next page ("" after the last). The
	// cursor is opaque; a malformed one is ErrInvalid. Records written between pages show up or not
	// depending on their ID; none is returned twice.
	List(ctx context.Context, cursor string, limit int) ([]Subscriber, string, error)
	// Count returns the number of subscribers.
	Count(ctx context.Context) (int, error)

	// PutPage stores p (built by content.NewPage after sanitising) as an immutable version and
	// returns its reference: hex SHA-1 over p.Name, a NUL and p.Body, so the same bytes under the
	// same name are stored once. The gzip and zstd variants are stored with it and never recomputed.
	// A page no subscriber references is collected after Options.GCGrace.
	PutPage(ctx context.Context, p *content.Page) (string, error)
	// GetPage returns the stored page version, or ErrNotFound. The page is immutable and shared.
	GetPage(ctx context.Context, ref string) (*content.Page, error)
	// PutClip stores c as an immutable version and returns its reference (Clip.Ref). It must have at
	// least one part of a known kind (ErrInvalid otherwise); the store keeps the bytes as given and
	// does not decode them. An unreferenced clip is collected after Options.GCGrace.
	PutClip(ctx context.Context, c Clip) (string, error)
	// GetClip returns the stored clip version, or ErrNotFound.
	GetClip(ctx context.Context, ref string) (Clip, error)

	// Close releases the store. Writes that returned before Close are durable.
	Close() error
}

// List limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ValidID reports whether id can name a subscriber: 1 to 64 bytes of ASCII letters, digits, '-',
// '_', '.', '@' and '+', not starting with '.'. A canonical identity such as "alice@home1.net" or
// "+12125551111" is a valid ID (the seed import uses the primary identity).
func ValidID(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '@' || c == '+') {
			return false
		}
	}
	return true
}
