package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/profile"
)

// ClipsDir is the seed directory's folder of ringback clips: clips/<name>.wav, <name>.awb and
// <name>.h264 (any of them) make the clip a profile's `ringback: <name>` names.
const ClipsDir = "clips"

// Import writes a seed directory (profile.LoadSeed's layout, plus ClipsDir) into st: each seed
// subscriber becomes the record whose ID is its primary canonical identity (or one derived from it:
// importID), its pages become page versions and a ringback whose files are in ClipsDir a clip
// version; a ringback name without files is kept as a name (a clip built into the binary, such as
// "ringback"). A record with that ID is replaced, so importing the same seed twice changes nothing
// but revisions.
//
// The seed is validated as a whole before anything is written (profile.LoadSeed's errors, with
// file:line:col). Each subscriber is then one durable write; Import stops at the first that fails
// (an identity another record owns, say) and reports how many it wrote.
func Import(ctx context.Context, st Store, fsys fs.FS) (int, error) {
	ms, err := profile.LoadSeed(fsys)
	if err != nil {
		return 0, err
	}
	profiles := ms.Profiles()
	slices.SortFunc(profiles, func(a, b *profile.Profile) int { return cmp.Compare(a.Key, b.Key) })
	pages := map[*content.Page]string{}
	clips := map[string]string{} // ringback name → reference ("" = no files: keep the name)
	n := 0
	for _, p := range profiles {
		sub := Subscriber{ID: importID(p.Key), Identities: append([]string{p.Key}, p.Identities...), PushCapable: p.PushCapable}
		for _, c := range []struct {
			pg  *content.Page
			dst *string
		}{{p.CallerCard, &sub.CallerCard}, {p.CalleeCard, &sub.CalleeCard}} {
			if c.pg == nil {
				continue
			}
			ref, ok := pages[c.pg]
			if !ok {
				if ref, err = st.PutPage(ctx, c.pg); err != nil {
					return n, fmt.Errorf("store: import %s: %w", p.Key, err)
				}
				pages[c.pg] = ref
			}
			*c.dst = ref
		}
		if name := p.Ringback; name != "" {
			ref, ok := clips[name]
			if !ok {
				if ref, err = importClip(ctx, st, fsys, name); err != nil {
					return n, fmt.Errorf("store: import %s: ringback %s: %w", p.Key, name, err)
				}
				clips[name] = ref
			}
			sub.Ringback = name
			if ref != "" {
				sub.Ringback = ref
			}
		}
		if _, err := st.Put(ctx, sub, Precondition{}); err != nil {
			return n, fmt.Errorf("store: import %s: %w", p.Key, err)
		}
		n++
	}
	return n, nil
}

// importClip stores clips/<name>.{wav,awb,h264} as one clip version; "" when there is none.
func importClip(ctx context.Context, st Store, fsys fs.FS, name string) (string, error) {
	c := Clip{Name: name, Parts: map[string][]byte{}}
	for _, k := range clipKinds {
		b, err := fs.ReadFile(fsys, path.Join(ClipsDir, name+"."+k))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return "", err
		}
		c.Parts[k] = b
	}
	if len(c.Parts) == 0 {
		return "", nil
	}
	if _, err := BuildClip(c); err != nil { // refuse a clip core/media cannot play
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return st.PutClip(ctx, c)
}

// importID is the record ID of the seed subscriber whose primary canonical identity is key: key
// itself when it is a valid ID, as a name (alice@home1.net) or a number is; otherwise 16 hex digits
// of its SHA-256, the same on every import, so that a re-import replaces the record. An identity
// whose host is an IPv6 address (sip:bob@[2001:db8::10], RFC 3261 §19.1.1 hostport with §25.1
// IPv6reference) keeps its brackets and colons canonically, and an ID, a path segment of the API,
// cannot have them (RFC 3986 §3.3: '[' and ']' are gen-delims, not pchar); the API also finds the
// record by the identity itself.
func importID(key string) string {
	if ValidID(key) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hexString(sum[:8])
}
