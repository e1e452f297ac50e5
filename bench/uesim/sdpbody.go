package uesim

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/sdp"
)

// Codecs the simulated terminals offer and accept (by rtpmap encoding name, upper case).
var (
	audioCodecs = map[string]bool{"PCMU": true, "PCMA": true, "AMR-WB": true, "AMR": true, "EVS": true}
	videoCodecs = map[string]bool{"H264": true}
	staticNames = map[string]string{"0": "PCMU", "8": "PCMA", "9": "G722", "18": "G729"}
)

// offerOptions shape the caller's SDP offer.
type offerOptions struct {
	amrwb, video bool
}

// buildOffer returns an IMS-like offer (TS 26.114 flavour, kept small for UDP): audio PCMU/PCMA
// (plus AMR-WB when asked) with telephone-event, and optionally H.264 video.
func buildOffer(user, host string, sessID uint64, audioPort int, o offerOptions) []byte {
	s := sdp.NewSession(user, host, sessID)
	a := &sdp.Media{Type: "audio", Port: audioPort, Proto: "RTP/AVP"}
	if o.amrwb {
		a.Formats = append(a.Formats, "96")
	}
	a.Formats = append(a.Formats, "0", "8", "101")
	if o.amrwb {
		a.AddAttr("rtpmap", "96 AMR-WB/16000")
		a.AddAttr("fmtp", "96 mode-change-capability=2;max-red=0")
	}
	a.AddAttr("rtpmap", "0 PCMU/8000")
	a.AddAttr("rtpmap", "8 PCMA/8000")
	a.AddAttr("rtpmap", "101 telephone-event/8000")
	a.AddAttr("ptime", "20")
	a.AddFlag(sdp.SendRecv)
	s.AddMedia(a)
	if o.video {
		v := &sdp.Media{Type: "video", Port: audioPort + 2, Proto: "RTP/AVP", Formats: []string{"98"}}
		v.AddAttr("rtpmap", "98 H264/90000")
		v.AddAttr("fmtp", "98 profile-level-id=42C01F;packetization-mode=1")
		v.AddFlag(sdp.SendRecv)
		s.AddMedia(v)
	}
	return s.Marshal()
}

// pushPlan is one m=message push line this terminal accepted: what the offer said and the path
// the terminal answered with.
type pushPlan struct {
	info    sdp.MSRPInfo
	ownPath string
}

// fetchAddr is where to open the MSRP connection: under CEMA (RFC 6714) the c=/m= address of
// the offer, otherwise the host:port of the first a=path URI (RFC 4975 §8.1).
func (p pushPlan) fetchAddr() (string, error) {
	if p.info.CEMA && p.info.ConnAddr != "" && p.info.Port > 0 {
		return net.JoinHostPort(p.info.ConnAddr, strconv.Itoa(p.info.Port)), nil
	}
	u, err := msrp.ParseURI([]byte(p.info.Path[0]))
	if err != nil {
		return "", fmt.Errorf("%w: a=path: %w", ErrProtocol, err)
	}
	port := u.Port
	if port == 0 {
		port = msrp.DefaultPort
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(port)), nil
}

// fetchOptions turns the plan into Fetch options.
func (p pushPlan) fetchOptions() (FetchOptions, error) {
	addr, err := p.fetchAddr()
	if err != nil {
		return FetchOptions{}, err
	}
	o := FetchOptions{Addr: addr, ToPath: strings.Join(p.info.Path, " "), FromPath: p.ownPath, Size: -1}
	if fs := p.info.FileSelector; fs != nil {
		if fs.Size > 0 {
			o.Size = fs.Size
		}
		o.Hash = fs.Hash
	}
	return o, nil
}

// answerOffer builds an RFC 3264 answer to offer: one m-line per offered line, same order. RTP
// lines are accepted with the first offered codec the terminal knows (direction mirrored);
// m=message push lines (sendonly, with a=path) are accepted as RFC 5547 receivers when
// acceptPush is set: a=recvonly, own a=path msrp://host:9/<random>;tcp, a=setup:active,
// a=msrp-cema, the same file-selector and file-transfer-id (RFC 5547). Anything else is
// rejected with port 0.
func answerOffer(offer *sdp.Session, host string, sessID uint64, rtpBase int, acceptPush bool) (*sdp.Session, []pushPlan) {
	ans := sdp.NewSession("-", host, sessID)
	var plans []pushPlan
	for i, om := range offer.Media {
		am := &sdp.Media{Type: om.Type, Proto: om.Proto, Formats: []string{"*"}}
		if len(om.Formats) > 0 {
			am.Formats = []string{om.Formats[0]}
		}
		switch {
		case om.Port == 0:
			// disabled by the offerer: stays disabled
		case strings.EqualFold(om.Type, "message"):
			info, err := om.MSRP()
			if err != nil || !acceptPush || offer.DirectionOf(om) != sdp.SendOnly {
				break
			}
			own := "msrp://" + host + ":9/" + msrp.NewSessionID() + ";tcp"
			am.Port = 9
			am.Formats = []string{"*"}
			am.AddFlag(sdp.RecvOnly)
			if len(info.AcceptTypes) > 0 {
				am.AddAttr("accept-types", strings.Join(info.AcceptTypes, " "))
			}
			am.AddAttr("path", own)
			am.AddAttr("setup", "active")
			am.AddFlag("msrp-cema")
			if v, ok := om.Attr("file-selector"); ok {
				am.AddAttr("file-selector", v)
			}
			if info.TransferID != "" {
				am.AddAttr("file-transfer-id", info.TransferID)
			}
			plans = append(plans, pushPlan{info: info, ownPath: own})
		case strings.HasPrefix(strings.ToUpper(om.Proto), "RTP/"):
			f, rtpmap, fmtp, ok := pickCodec(om)
			if !ok {
				break
			}
			am.Port = rtpBase + 2*i
			am.Formats = []string{f}
			if rtpmap != "" {
				am.AddAttr("rtpmap", rtpmap)
			}
			if fmtp != "" {
				am.AddAttr("fmtp", fmtp)
			}
			am.AddFlag(mirror(offer.DirectionOf(om)))
		}
		ans.AddMedia(am)
	}
	return ans, plans
}

// pickCodec returns the first offered format the terminal supports, with its rtpmap and fmtp.
func pickCodec(m *sdp.Media) (format, rtpmap, fmtp string, ok bool) {
	known := audioCodecs
	if strings.EqualFold(m.Type, "video") {
		known = videoCodecs
	}
	maps := map[string]string{}
	fmtps := map[string]string{}
	for _, v := range m.AttrAll("rtpmap") {
		f, _, _ := strings.Cut(v, " ")
		maps[f] = v
	}
	for _, v := range m.AttrAll("fmtp") {
		f, _, _ := strings.Cut(v, " ")
		fmtps[f] = v
	}
	for _, f := range m.Formats {
		name := staticNames[f]
		if rm, has := maps[f]; has {
			_, enc, _ := strings.Cut(rm, " ")
			name, _, _ = strings.Cut(enc, "/")
		}
		if known[strings.ToUpper(name)] {
			return f, maps[f], fmtps[f], true
		}
	}
	return "", "", "", false
}

// mirror is the answer direction for an offered direction (RFC 3264 §6.1).
func mirror(d string) string {
	switch d {
	case sdp.SendOnly:
		return sdp.RecvOnly
	case sdp.RecvOnly:
		return sdp.SendOnly
	case sdp.Inactive:
		return sdp.Inactive
	}
	return sdp.SendRecv
}

// hasPush reports whether s offers an m=message push line (sendonly, a=path, a=file-selector).
func hasPush(s *sdp.Session) bool {
	for _, m := range s.Media {
		if m.Port == 0 || !strings.EqualFold(m.Type, "message") {
			continue
		}
		info, err := m.MSRP()
		if err == nil && info.FileSelector != nil && s.DirectionOf(m) == sdp.SendOnly {
			return true
		}
	}
	return false
}
