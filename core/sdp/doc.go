// Package sdp parses and generates SDP session descriptions (RFC 8866, which
// obsoletes RFC 4566) with any number of m-lines, the MSRP and file-transfer
// attributes Herald advertises and reads (RFC 4975 §8, RFC 5547, RFC 6135,
// RFC 6714), and the multipart/mixed SIP bodies (RFC 2046, RFC 5621) that
// carry an early-session description (RFC 3959).
//
// The package is a pure codec: it does no I/O and imports neither sipgo nor
// gnet. Every parser is fuzzed (x_fuzz_test.go).
//
// # SDP
//
// [Parse] is tolerant of LF-only line ends and of unknown line types (kept in
// order in Session.Other and Media.Other), but strict on structure: v= must
// come first, o= and s= must be present, m= lines must be well formed. All
// syntax errors wrap [ErrSyntax] and name the 1-based line number. [Parse]
// rejects descriptions larger than [MaxSize] bytes or with more than
// [MaxMedia] m-lines with [ErrTooLarge].
//
// [Session.Marshal] writes CRLF line ends in the RFC 8866 §5 order:
//
//	v= o= s= i= u= e=* p=* c= b=* (t= r=*)* [other: z= k= ...] a=*
//	(m= i= c= b=* [other: k= ...] a=*)*
//
// so Parse(Marshal(Parse(x))) equals Parse(x).
//
// Values returned by [Parse] are copies; they do not alias the input.
//
// # Multipart bodies
//
// [ParseMultipart] and [BuildMultipart] handle RFC 2046 multipart/mixed.
// [SplitBody], [StripEarlySession] and [AddEarlySession] implement the body
// rewriting of a B2BUA that adds or removes an early-session part while
// keeping every other part, in particular the caller's SDP, byte-for-byte
// unchanged: StripEarlySession(AddEarlySession(x)) == x.
//
// Parts returned by [ParseMultipart] alias the body passed in.
//
// None of the functions in this package keep state; all are safe for
// concurrent use. A *Session is not safe for concurrent mutation.
package sdp
