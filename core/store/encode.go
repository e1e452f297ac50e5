package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/herald-ims/herald/core/content"
)

// Record encodings. Each value starts with a format byte so a later release can change a layout
// and still read the old one. Strings and byte slices are uvarint length-prefixed.
const (
	subFormat  = 1
	pageFormat = 1
	clipFormat = 1
)

var errCorrupt = errors.New("store: corrupt record")

type enc []byte

func (e enc) bytes(b []byte) enc   { return append(binary.AppendUvarint(e, uint64(len(b))), b...) }
func (e enc) str(s string) enc     { return append(binary.AppendUvarint(e, uint64(len(s))), s...) }
func (e enc) uvarint(v uint64) enc { return binary.AppendUvarint(e, v) }

type dec struct {
	b   []byte
	err error
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns the next length-prefixed slice; it aliases the decoded buffer.
func (d *dec) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *dec) str() string { return string(d.bytes()) }

func (d *dec) byte1() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func encodeSub(s *Subscriber) []byte {
	e := enc{subFormat}
	e = e.uvarint(s.Revision).str(s.ID).uvarint(uint64(len(s.Identities)))
	for _, id := range s.Identities {
		e = e.str(id)
	}
	e = e.str(s.CallerCard).str(s.CalleeCard).str(s.Ringback)
	var flags byte
	if s.PushCapable {
		flags |= 1
	}
	return append(e, flags)
}

func decodeSub(b []byte) (Subscriber, error) {
	d := dec{b: b}
	var s Subscriber
	if d.byte1() != subFormat && d.err == nil {
		return s, fmt.Errorf("%w: subscriber format %d", errCorrupt, b[0])
	}
	s.Revision = d.uvarint()
	s.ID = d.str()
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
	}
	if d.err == nil {
		s.Identities = make([]string, 0, n)
		for range n {
			s.Identities = append(s.Identities, d.str())
		}
	}
	s.CallerCard, s.CalleeCard, s.Ringback = d.str(), d.str(), d.str()
	s.PushCapable = d.byte1()&1 != 0
	if d.err != nil {
		return Subscriber{}, fmt.Errorf("%w: subscriber", d.err)
	}
	return s, nil
}

func encodePage(p *content.Page) []byte {
	e := make(enc, 0, 1+len(p.Name)+len(p.Body)+len(p.Gzip)+len(p.Zstd)+40)
	e = append(e, pageFormat)
	e = append(e, p.SHA1[:]...)
	return e.str(p.Name).bytes(p.Body).bytes(p.Gzip).bytes(p.Zstd)
}

// decodePage copies out of b (bbolt's memory is only valid inside its transaction) and rebuilds the
// page with content.Restore: the body must still pass the sanitiser's final safety check, each
// variant must decode to it and its SHA-1 must be the stored one, so a page altered in the file
// never reaches a phone (content.Page.Sanitized; the push planes refuse any other page).
func decodePage(b []byte) (*content.Page, error) {
	if len(b) < 21 || b[0] != pageFormat {
		return nil, fmt.Errorf("%w: page", errCorrupt)
	}
	var sum [20]byte
	copy(sum[:], b[1:21])
	d := dec{b: b[21:]}
	name := d.str()
	body, gz, zs := d.bytes(), d.bytes(), d.bytes()
	if d.err != nil {
		return nil, fmt.Errorf("%w: page", d.err)
	}
	// One allocation for the three variants; each gets a capacity-capped sub-slice.
	buf := make([]byte, 0, len(body)+len(gz)+len(zs))
	buf = append(append(append(buf, body...), gz...), zs...)
	p, err := content.Restore(name, buf[:len(body):len(body)], buf[len(body):len(body)+len(gz):len(body)+len(gz)],
		buf[len(body)+len(gz):])
	if err != nil {
		return nil, fmt.Errorf("%w: page: %w", errCorrupt, err)
	}
	if p.SHA1 != sum {
		return nil, fmt.Errorf("%w: page: sha-1 is not the stored one", errCorrupt)
	}
	return p, nil
}

// clipKinds is the order parts are encoded and hashed in.
var clipKinds = []string{KindWAV, KindAWB, KindH264}

func encodeClip(c *Clip) []byte {
	e := enc{clipFormat}
	e = e.str(c.Name).uvarint(uint64(len(c.Parts)))
	for _, k := range clipKinds {
		if b, ok := c.Parts[k]; ok {
			e = e.str(k).bytes(b)
		}
	}
	return e
}

func decodeClip(ref string, b []byte) (Clip, error) {
	if len(b) == 0 || b[0] != clipFormat {
		return Clip{}, fmt.Errorf("%w: clip", errCorrupt)
	}
	d := dec{b: b[1:]}
	c := Clip{Ref: ref, Name: d.str(), Parts: map[string][]byte{}}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.str()
		c.Parts[k] = slices.Clone(d.bytes())
	}
	if d.err != nil {
		return Clip{}, fmt.Errorf("%w: clip", d.err)
	}
	return c, nil
}

// refCount is the reference record of one page or clip version: how many subscriber fields name it
// and, when none does, since when (Unix nanoseconds).
type refCount struct {
	n      uint64
	orphan int64
}

func (r refCount) encode() []byte {
	return binary.AppendVarint(binary.AppendUvarint(nil, r.n), r.orphan)
}

func decodeRefCount(b []byte) refCount {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return refCount{}
	}
	o, _ := binary.Varint(b[k:])
	return refCount{n: n, orphan: o}
}

// EncodeSubscriber, DecodeSubscriber, EncodePage, DecodePage, EncodeClip and DecodeClip are the
// record encodings Bolt stores, for a networked store that keeps the same bytes (netio/redisstore).
// DecodePage rebuilds the page with content.Restore, so a page altered in the backend never
// reaches a phone.
func EncodeSubscriber(s *Subscriber) []byte { return encodeSub(s) }

// DecodeSubscriber: see EncodeSubscriber.
func DecodeSubscriber(b []byte) (Subscriber, error) { return decodeSub(b) }

// EncodePage: see EncodeSubscriber.
func EncodePage(p *content.Page) []byte { return encodePage(p) }

// DecodePage: see EncodeSubscriber.
func DecodePage(b []byte) (*content.Page, error) { return decodePage(b) }

// EncodeClip: see EncodeSubscriber.
func EncodeClip(c *Clip) []byte { return encodeClip(c) }

// DecodeClip: see EncodeSubscriber.
func DecodeClip(ref string, b []byte) (Clip, error) { return decodeClip(ref, b) }

// Normalise checks sub as Put does (ID, identities canonicalised and de-duplicated in order,
// reference forms) and fills an empty ID with a random one. For other Store implementations.
func Normalise(sub *Subscriber) error {
	sub.Identities = append([]string(nil), sub.Identities...)
	return normalise(sub)
}

// CheckClip checks c as PutClip does (at least one part, known kinds, none empty).
func CheckClip(c *Clip) error {
	if len(c.Parts) == 0 {
		return fmt.Errorf("%w: clip without parts", ErrInvalid)
	}
	for k, b := range c.Parts {
		if k != KindWAV && k != KindAWB && k != KindH264 {
			return fmt.Errorf("%w: clip kind %q", ErrInvalid, k)
		}
		if len(b) == 0 {
			return fmt.Errorf("%w: empty %s part", ErrInvalid, k)
		}
	}
	return nil
}
