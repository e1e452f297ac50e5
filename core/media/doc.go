// Package media holds ringback clips: decoded once, framed once, shared read-only by every stream.
//
// A clip is ingested at provisioning time and turned into [Packets]: the exact RTP payloads of one loop of
// the clip, with their timestamp offsets and marker flags. The RTP plane (netio/rtp) only writes a 12-byte
// header in front of each shared payload, so nothing here is touched per packet.
//
// Sources and what they become:
//
//   - WAV, PCM 16-bit mono at 8 kHz or 16 kHz ([ParseWAV]) → PCMU and PCMA, 20 ms per packet
//     ([NewG711]). 16 kHz input is low-pass filtered and decimated to 8 kHz. The G.711 encoders are
//     written here from the ITU-T G.711 segment tables (see g711.go); anything else is a clear error.
//   - AMR-WB storage format, RFC 4867 §5 ([ParseAWB]) → one frame per packet, no transcoding, in the
//     octet-aligned (§4.4) or bandwidth-efficient (§4.3) payload format ([NewAMRWB]). NO_DATA frames
//     are not sent (RFC 4867 §4.1 lets a sender skip them); the timestamp still advances.
//   - H.264 Annex-B ([NewH264]) → access units packetised once per MTU with pion/rtp's H264Payloader
//     (single NAL, STAP-A for SPS+PPS, FU-A), marker on the last packet of each access unit, 90 kHz
//     timestamps stepped per frame.
//
// [PrepareClip] is the one way an uploaded clip (and the built-in one) becomes a [Clip]: it detects
// or checks each source's kind ([DetectKind]), bounds its size and loop length ([ClipLimits]),
// decodes and frames it once, and gives the clip a content address ([Clip].Version, SHA-1 over its
// sources) and its sources, for a store to keep as an immutable version. [ClipErrorCode] maps its
// errors to stable codes for API answers.
//
// [Clip] bundles the framings of one ringback (audio and optionally video) and answers one SDP m-line
// ([Clip.Choose], [MLine]): it picks the first offered format it can serve without transcoding and
// returns the payload type, rtpmap and fmtp to answer with, or [ErrNoCommonCodec].
//
// The package is pure: no I/O beyond the byte slices given to it, no goroutines, no sockets. Every value
// it returns is immutable after construction and safe to share between goroutines.
package media
