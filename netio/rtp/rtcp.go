package rtp

import (
	"encoding/binary"
	"time"
)

// RTCP sender report and SDES, RFC 3550 §6.4.1 and §6.5. Every compound RTCP packet must carry an
// SDES CNAME (§6.1), so the plane sends SR + SDES(CNAME) as one datagram, written in place into a
// per-stream buffer without allocation.
//
//	 0                   1                   2                   3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|V=2|P|  RC=0   |   PT=SR=200   |          length = 6           |
//	|                         SSRC of sender                        |
//	|              NTP timestamp, most significant word             |
//	|             NTP timestamp, least significant word             |
//	|                         RTP timestamp                         |
//	|                     sender's packet count                     |
//	|                      sender's octet count                     |
//	+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//	|V=2|P|  SC=1   |  PT=SDES=202  |             length            |
//	|                          SSRC/CSRC_1                          |
//	|    CNAME=1    |     length    | user and domain name ...  0 pad to 32 bits
const (
	srLen        = 28
	rtcpSR       = 200
	rtcpSDES     = 202
	sdesCNAME    = 1
	ntpUnixDelta = 2208988800 // seconds from 1900-01-01 to 1970-01-01
)

// buildRTCP returns a compound SR+SDES buffer for ssrc; the SR's time and counts are filled by putSR.
func buildRTCP(ssrc uint32, cname string) []byte {
	chunk := 4 + 2 + len(cname)
	chunk += 4 - chunk%4 // at least one null octet ends the item list
	b := make([]byte, srLen+4+chunk)
	b[0], b[1] = 0x80, rtcpSR
	binary.BigEndian.PutUint16(b[2:], srLen/4-1)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	s := b[srLen:]
	s[0], s[1] = 0x81, rtcpSDES
	binary.BigEndian.PutUint16(s[2:], uint16((4+chunk)/4-1))
	binary.BigEndian.PutUint32(s[4:], ssrc)
	s[8], s[9] = sdesCNAME, byte(len(cname))
	copy(s[10:], cname)
	return b
}

// putSR writes the wall-clock NTP time, the matching RTP timestamp and the counts into b.
func putSR(b []byte, wall time.Time, rtpTS, packets, octets uint32) {
	sec := uint64(wall.Unix()) + ntpUnixDelta
	frac := uint64(wall.Nanosecond()) << 32 / uint64(time.Second)
	binary.BigEndian.PutUint32(b[8:], uint32(sec))
	binary.BigEndian.PutUint32(b[12:], uint32(frac))
	binary.BigEndian.PutUint32(b[16:], rtpTS)
	binary.BigEndian.PutUint32(b[20:], packets)
	binary.BigEndian.PutUint32(b[24:], octets)
}
