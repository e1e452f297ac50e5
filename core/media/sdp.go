package media

import "github.com/herald-ims/herald/core/sdp"

// MLineOf converts a parsed core/sdp media description to the view codec choice reads.
func MLineOf(m *sdp.Media) MLine {
	l := MLine{Type: m.Type, Proto: m.Proto, Formats: m.Formats, Attrs: make([]Attr, 0, len(m.Attrs))}
	for _, a := range m.Attrs {
		l.Attrs = append(l.Attrs, Attr{Key: a.Key, Value: a.Value})
	}
	return l
}

// ChooseMedia is [Clip.Choose] for a core/sdp media description.
func (c *Clip) ChooseMedia(m *sdp.Media) (Choice, error) { return c.Choose(MLineOf(m)) }

// AnswerAttrs returns the codec attributes of the answer's m-line: a=rtpmap, a=fmtp when the format
// has parameters, and a=ptime:20 for audio. The direction attribute (a=sendonly) is the caller's.
func (c Choice) AnswerAttrs() []sdp.Attr {
	attrs := []sdp.Attr{{Key: "rtpmap", Value: c.Rtpmap()}}
	if c.Fmtp != "" {
		attrs = append(attrs, sdp.Attr{Key: "fmtp", Value: fmtInt(c.PayloadType) + " " + c.Fmtp})
	}
	if c.Channels > 0 {
		attrs = append(attrs, sdp.Attr{Key: "ptime", Value: "20"})
	}
	return attrs
}

func fmtInt(pt uint8) string {
	if pt >= 100 {
		return string([]byte{'0' + pt/100, '0' + pt/10%10, '0' + pt%10})
	}
	if pt >= 10 {
		return string([]byte{'0' + pt/10, '0' + pt%10})
	}
	return string([]byte{'0' + pt})
}
