package call

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/core/sdp"
)

// sdp.go is what the claims put in SDP, without sockets: the caller card's early-session part in
// the INVITE (claims 1, 3), Herald's answer on its own early dialog with the ringback lines (claims
// 2, 6) and the media request message's offer with the callee card's push line (claims 1/4, 5/7).
// The glue reserves ports and opens push sessions; these functions decide the bytes.

// ErrBody is returned for an INVITE body the caller card's part must not be added to.
var ErrBody = errors.New("call: body cannot carry the early-session part")

// CheckCallerBody reports whether an INVITE body of type ct can carry the caller card's
// early-session part: an SDP body or a multipart/mixed holding one (never multipart/signed, whose
// signature the part would break, nor a body without SDP), or no body. The caller's offer stays
// byte for byte, but it must be SDP: a malformed one is forwarded untouched, without Herald's part
// (the next hop answers it 400/488 as it sees fit). It returns the offer it parsed (nil for no
// body), so that the call parses it once.
func CheckCallerBody(ct string, body []byte) (*sdp.Session, error) {
	session, _, err := sdp.SplitBody(ct, body)
	if err != nil {
		return nil, err
	}
	if mt := sdp.MediaType(ct); ct != "" && mt != "application/sdp" && mt != "multipart/mixed" || len(body) > 0 && session == nil {
		return nil, fmt.Errorf("%w: type %q", ErrBody, ct)
	}
	if session == nil {
		return nil, nil
	}
	offer, err := sdp.Parse(session)
	if err != nil {
		return nil, fmt.Errorf("%w: the caller's offer: %w", ErrBody, err)
	}
	return offer, nil
}

// WithCallerCard returns the INVITE body with the caller card's early-session part added (claims 1,
// 3; RFC 3959 handling=optional): the caller's SDP unchanged as the session part, then an SDP at
// host offering push (the m=message line of RFC 4975, 5547, 6714), in a multipart/mixed with
// boundary.
func WithCallerCard(ct string, body []byte, host string, sessID uint64, push *sdp.Media, boundary string) (string, []byte, error) {
	early := sdp.NewSession("herald", host, sessID)
	early.Media = append(early.Media, push)
	return sdp.AddEarlySession(ct, body, early.Marshal(), boundary)
}

// RingLine is one ringback stream Herald's early answer plays: the offer's m-line, where the RTP
// goes (the caller's c= and port) and the codec chosen from the caller's.
type RingLine struct {
	Index  int
	Dst    netip.AddrPort
	Choice media.Choice
}

// EarlyAnswer answers the caller's offer m-line by m-line for Herald's early dialog (RFC 3264;
// TS 24.182 Annex B). With a ringback clip, each m-line the clip can serve in a codec the caller
// offered gets a stream: alloc reserves its port (before the SDP names it) or fails, and the line is
// answered sendonly in that codec only, with a=content:g.3gpp.cat, at rtpHost; the other lines get
// port 0. Without a clip, or when no line got a stream, every line is answered inactive at host
// (port 9, the discard port; m=message port 0). It returns the answer, the streams, and whether an
// allocation failed.
func EarlyAnswer(offer *sdp.Session, clip *media.Clip, host, rtpHost string, sessID uint64,
	alloc func(RingLine) (port int, err error)) (ans *sdp.Session, lines []RingLine, allocFailed bool) {
	inactive := func(_ int, m *sdp.Media) int {
		if m.Type == "message" {
			return 0
		}
		return 9 // discard port: no media flows on an inactive line
	}
	if clip == nil {
		return sdp.AnswerInactive(offer, host, sessID, inactive), nil, false
	}
	served := map[string]bool{} // one stream per media type: the ringback's audio, its video
	ans = sdp.AnswerInactive(offer, rtpHost, sessID, func(i int, m *sdp.Media) int {
		if served[m.Type] {
			return 0
		}
		ch, err := clip.ChooseMedia(m)
		if err != nil {
			return 0
		}
		ip, err := netip.ParseAddr(sdp.ConnAddr(offer.ConnOf(m)))
		if err != nil || !ringTarget(ip, m.Port, rtpHost) {
			return 0
		}
		line := RingLine{Index: i, Dst: netip.AddrPortFrom(ip, uint16(m.Port)), Choice: ch}
		port, err := alloc(line)
		if err != nil {
			allocFailed = true
			return 0
		}
		lines = append(lines, line)
		served[m.Type] = true
		return port
	})
	if len(lines) == 0 {
		return sdp.AnswerInactive(offer, host, sessID, inactive), nil, allocFailed
	}
	for _, l := range lines {
		m := ans.Media[l.Index]
		m.Formats = []string{strconv.Itoa(int(l.Choice.PayloadType))}
		m.DelAttr("rtpmap")
		m.DelAttr("fmtp")
		m.DelAttr("ptime")
		m.Attrs = append(m.Attrs, l.Choice.AnswerAttrs()...)
		m.SetDirection(sdp.SendOnly)
		m.AddAttr("content", "g.3gpp.cat") // TS 24.182 Annex B: customized alerting tone
	}
	return ans, lines, allocFailed
}

// ringTarget reports whether Herald plays ringback to ip and port, an address the caller's offer
// names: not an address no terminal has (unspecified, multicast, broadcast, link-local), nor
// loopback unless Herald's own RTP address (rtpHost) is (a lab on one machine). The offer is the
// caller's to write: without the check, an INVITE's SDP could point Herald's streams at its own
// host, a multicast group or any port below 1024, where nothing takes RTP.
func ringTarget(ip netip.Addr, port int, rtpHost string) bool {
	ip = ip.Unmap()
	if port < 1024 || ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalUnicast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	if ip.IsLoopback() {
		own, err := netip.ParseAddr(rtpHost)
		return err == nil && own.IsLoopback()
	}
	return true
}

// UpdateOffer is the SDP of the media request message (claims 1/4, 5/7): Herald's current SDP on
// its early dialog (the 183's answer; a new session at host when it sent none) with its version one
// up (RFC 3264 §8), keeping every m-line in its place and adding the callee card's push line.
// current is not modified.
func UpdateOffer(current *sdp.Session, host string, sessID uint64, push *sdp.Media) *sdp.Session {
	var sess *sdp.Session
	if current != nil {
		cp := *current
		// Room for the push line: the copy and the append are one allocation.
		cp.Media = append(make([]*sdp.Media, 0, len(current.Media)+1), current.Media...)
		sess = &cp
	} else {
		sess = sdp.NewSession("herald", host, sessID)
	}
	ver, _ := strconv.ParseUint(sess.Origin.SessVersion, 10, 64)
	sess.Origin.SessVersion = strconv.FormatUint(ver+1, 10)
	sess.Media = append(sess.Media, push)
	return sess
}

// SessionAnswered reports whether a 2xx body of type ct answers the caller's offer: a session SDP
// with an m-line not refused (port 0). A callee that did not take the early-session part may
// answer without one (linphone 5.1: 200 without SDP, then BYE): Event.Session for the machine.
func SessionAnswered(ct string, body []byte) bool {
	session, _, err := sdp.SplitBody(ct, body)
	if err != nil || session == nil {
		return false
	}
	ans, err := sdp.Parse(session)
	if err != nil {
		return false
	}
	for _, m := range ans.Media {
		if m.Port != 0 {
			return true
		}
	}
	return false
}

// EarlyAnswers are the MSRP lines (not refused) of the callee terminal's early-session answer in
// a response body of type ct (claim 1: where its terminal takes the caller card from); none when
// the body has no early-session part.
func EarlyAnswers(ct string, body []byte) []sdp.MSRPInfo {
	_, early, err := sdp.SplitBody(ct, body)
	if err != nil || early == nil {
		return nil
	}
	sess, err := sdp.Parse(early)
	if err != nil {
		return nil
	}
	var infos []sdp.MSRPInfo
	for _, m := range sess.Media {
		if !m.IsMSRP() || m.Port == 0 {
			continue
		}
		if info, err := m.MSRP(); err == nil {
			infos = append(infos, info)
		}
	}
	return infos
}

// UpdateAnswer reads the caller's SDP answer in the 200 (UPDATE) (claims 1/4, 5/7): declined when
// it refused the m=message line (port 0, RFC 3264 §6), else the MSRP lines it took (its a=path and
// a=setup), for the callee card's session.
func UpdateAnswer(body []byte) (declined bool, infos []sdp.MSRPInfo) {
	ans, err := sdp.Parse(body)
	if err != nil {
		return false, nil
	}
	for _, m := range ans.Media {
		if m.Type == "message" && m.Port == 0 {
			return true, nil
		}
	}
	for _, m := range ans.Media {
		if !m.IsMSRP() {
			continue
		}
		if info, err := m.MSRP(); err == nil {
			infos = append(infos, info)
		}
	}
	return false, infos
}
