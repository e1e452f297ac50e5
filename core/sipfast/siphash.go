package sipfast

import (
	cryptorand "crypto/rand"
	"encoding/binary"
	"math/bits"
)

// siphash.go: SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), the
// keyed hash that makes Herald's branches unguessable (route.go branchOf): a 64-bit output of a
// 128-bit key, designed as a MAC for short inputs. Checked against the paper's test vectors.

// sipHash24 is SipHash-2-4 of msg under the key (k0, k1), the key's bytes read little-endian.
func sipHash24(k0, k1 uint64, msg []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(msg)
	for len(msg) >= 8 {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		round()
		round()
		v0 ^= m
		msg = msg[8:]
	}
	var last [8]byte
	copy(last[:], msg)
	last[7] = byte(n)
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	round()
	round()
	v0 ^= m
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}

// cryptoUint64 is 64 random bits from crypto/rand (a key's half).
func cryptoUint64() uint64 {
	var b [8]byte
	_, _ = cryptorand.Read(b[:]) // never fails (crypto/rand)
	return binary.LittleEndian.Uint64(b[:])
}
