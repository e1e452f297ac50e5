package callsip

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestMessageFeature reads the RFC 3840 feature tag for message sessions (RFC 4569 sip.message)
// from an INVITE's Contact: present without a value or with any value but FALSE.
func TestMessageFeature(t *testing.T) {
	for contact, want := range map[string]bool{
		"<sip:erin@192.0.2.1>":                               false,
		"<sip:erin@192.0.2.1>;+sip.message":                  true,
		"<sip:erin@192.0.2.1>;+SIP.MESSAGE":                  true,
		`<sip:erin@192.0.2.1>;+sip.message="TRUE"`:           true,
		`<sip:erin@192.0.2.1>;+sip.message="FALSE"`:          false,
		"<sip:erin@192.0.2.1;+sip.message>":                  false, // a URI parameter, not a feature tag
		`<sip:erin@192.0.2.1>;+sip.instance="<urn:x>";video`: false,
	} {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "carol", Host: "home1.net"})
		req.AppendHeader(sip.NewHeader("Contact", contact))
		if got := messageFeature(req); got != want {
			t.Errorf("Contact %s: %t, want %t", contact, got, want)
		}
	}
}

// TestURIText: uriText prints what sip.Uri.String prints (it only skips sipgo's net.ParseIP test of
// the host), for the identities Herald looks profiles up by.
func TestURIText(t *testing.T) {
	for name, raw := range map[string]string{
		"sip user host":    "sip:dave@home1.net",
		"sip port params":  "sip:+1-212-555-1111@127.0.0.1:5060;user=phone;lr",
		"sips headers":     "sips:alice@home1.net?subject=hi&priority=urgent",
		"password":         "sip:bob:secret@example.com",
		"tel":              "tel:+1-212-555-2222;phone-context=home1.net",
		"urn":              "urn:service:sos",
		"ipv6 bracketed":   "sip:carol@[2001:db8::1]:5070",
		"host only":        "sip:home1.net",
		"uppercase scheme": "SIP:Dave@Home1.net",
	} {
		t.Run(name, func(t *testing.T) {
			var u sip.Uri
			if err := sip.ParseUri(raw, &u); err != nil {
				t.Skipf("sipgo does not parse %q: %v", raw, err)
			}
			if got, want := uriText(&u), u.String(); got != want {
				t.Fatalf("uriText = %q, String = %q", got, want)
			}
		})
	}
}

// BenchmarkCallerIdentity is the identity text of a plain INVITE's From (SIPp's uac_plain): sip.Uri.String against
// uriText.
func BenchmarkCallerIdentity(b *testing.B) {
	m, err := sip.ParseMessage(rawInvite("application/sdp", []byte(fuzzSDP), "", "sipp <sip:dave@127.0.0.1:15080>"))
	if err != nil {
		b.Fatal(err)
	}
	r := m.(*sip.Request)
	b.Run("String", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.From().Address.String()
		}
	})
	b.Run("uriText", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = uriText(&r.From().Address)
		}
	})
}

// TestEarlyMediaAuthorised reads P-Early-Media as RFC 5009 §5 has it: one direction per m-line,
// comma-separated, on one or more lines, case-insensitive; only sendrecv and sendonly authorise
// early media toward the caller.
func TestEarlyMediaAuthorised(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		want  bool
	}{
		{nil, false},
		{[]string{"sendonly"}, true},
		{[]string{"SendRecv"}, true},
		{[]string{"inactive, sendonly"}, true},
		{[]string{"gated"}, false},
		{[]string{"supported"}, false},
		{[]string{"recvonly", "inactive"}, false},
		{[]string{"inactive", "sendrecv"}, true},
		{[]string{"sendonlyx, x-sendrecv"}, false},
	} {
		res := sip.NewResponse(183, "Session Progress")
		for _, l := range tc.lines {
			res.AppendHeader(sip.NewHeader("p-early-media", l))
		}
		if got := earlyMediaAuthorised(res); got != tc.want {
			t.Errorf("P-Early-Media %q: %t, want %t", tc.lines, got, tc.want)
		}
	}
}
