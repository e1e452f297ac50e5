package msrp

import "crypto/rand"

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randAlnum appends n random [A-Za-z0-9] characters (5.95 bits each) from
// crypto/rand, without modulo bias.
func randAlnum(dst []byte, n int) []byte {
	var raw [64]byte
	for n > 0 {
		_, _ = rand.Read(raw[:]) // never fails (Go >= 1.24 crypto/rand)
		for _, b := range raw {
			if b >= 248 { // 248 = 4*62
				continue
			}
			dst = append(dst, alnum[b%62])
			n--
			if n == 0 {
				break
			}
		}
	}
	return dst
}

// AppendTID appends a new transaction id (16 alphanumerics, about 95 random bits).
func AppendTID(dst []byte) []byte { return randAlnum(dst, 16) }

// NewTID returns a new transaction id: 16 characters [A-Za-z0-9], about 95
// random bits (RFC 4975 §7.1 asks for at least 64).
func NewTID() string { return string(AppendTID(make([]byte, 0, 16))) }

// NewMessageID returns a new random Message-ID (16 alphanumerics).
func NewMessageID() string { return string(randAlnum(make([]byte, 0, 16), 16)) }

// NewSessionID returns a new random session-id for an MSRP URI: 20
// alphanumerics, about 119 bits (RFC 4975 §14.1 asks for at least 80).
func NewSessionID() string { return string(randAlnum(make([]byte, 0, 20), 20)) }

// TIDLen is the length of the ids [IDSource] and [NewTID] make.
const TIDLen = 16

// IDSource makes the same ids as [AppendTID] (16 alphanumerics from
// crypto/rand, no modulo bias) but draws the random bytes 256 at a time, so
// that a writer making one transaction id per chunk pays one getrandom for
// about fifteen ids instead of one per id. Every random byte is used at most
// once. The zero value is ready to use; an IDSource is not safe for
// concurrent use.
type IDSource struct {
	buf  [256]byte
	left int // unused bytes at the end of buf
}

// AppendTID appends a new transaction id (or Message-ID) of TIDLen characters.
func (s *IDSource) AppendTID(dst []byte) []byte {
	for n := TIDLen; n > 0; {
		if s.left == 0 {
			_, _ = rand.Read(s.buf[:]) // never fails (Go >= 1.24 crypto/rand)
			s.left = len(s.buf)
		}
		b := s.buf[len(s.buf)-s.left]
		s.left--
		if b >= 248 { // 248 = 4*62
			continue
		}
		dst = append(dst, alnum[b%62])
		n--
	}
	return dst
}
