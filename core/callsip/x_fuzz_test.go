package callsip

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/sdp"
)

// Fuzz target of Herald's own SIP-side parsing: the INVITE body it rewrites to add the caller card
// and the identities it looks subscribers up by. Seeds are the RFC 3261/3959/4475 examples and Herald's own
// wire messages below, also committed under testdata/fuzz/FuzzInviteBody (regenerate with
// go test -run TestInviteBodySeedCorpus -update-corpus).
//
//	go test -run '^$' -fuzz FuzzInviteBody -fuzztime 30s ./core/callsip/

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz")

// nullPlane is a push.Plane that only records sessions: addCallerCard runs its real code path.
type nullPlane struct {
	mu   sync.Mutex
	open map[string]*push.Session
}

func (p *nullPlane) Open(s *push.Session) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open[s.ID] = s
	return nil
}

func (p *nullPlane) Close(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.open[id]; ok {
		s.Report(push.Result{Outcome: push.Aborted})
		delete(p.open, id)
	}
}

func (p *nullPlane) PathURI(id string) string { return "msrp://192.0.2.10:2855/" + id + ";tcp" }
func (p *nullPlane) Addr() (string, int)      { return "192.0.2.10", 2855 }

const fuzzSDP = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
	"m=audio 49170 RTP/AVP 0 97\r\na=rtpmap:97 AMR-WB/16000\r\nm=video 51372 RTP/AVP 98\r\na=rtpmap:98 H264/90000\r\n"

const fuzzEarly = "v=0\r\no=ps 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
	"m=message 2855 TCP/MSRP *\r\na=sendonly\r\na=path:msrp://192.0.2.10:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp\r\n"

type inviteSeed struct {
	ct   string
	body []byte
	pai  string
	from string
}

func inviteSeeds() map[string]inviteSeed {
	mp := func(b string, parts ...string) []byte {
		var sb strings.Builder
		for _, p := range parts {
			sb.WriteString("--" + b + "\r\n" + p + "\r\n")
		}
		sb.WriteString("--" + b + "--\r\n")
		return []byte(sb.String())
	}
	return map[string]inviteSeed{
		// An MMTel caller's INVITE (TS 24.229 §5.1.3): the caller's offer, PAI with a tel URI and a SIP URI.
		"std91-sdp": {"application/sdp", []byte(fuzzSDP), "<tel:+1-212-555-1111>, <sip:alice@home1.net>", "<sip:alice@home1.net>"},
		// RFC 5621 multipart with the SDP and an ISUP part (SIP-I).
		"sipi-multipart": {"multipart/mixed;boundary=unique-boundary-1", mp("unique-boundary-1",
			"Content-Type: application/sdp\r\n\r\n"+fuzzSDP, "Content-Type: application/isup;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\x01\x00\x49"),
			"", `"Alice" <sip:+12125551111@home1.net;user=phone>`},
		// RFC 3959: a body that already has an early-session part (Herald must not add a second).
		"rfc3959-early": {`multipart/mixed; boundary="es"`, mp("es",
			"Content-Type: application/sdp\r\nContent-Disposition: session\r\n\r\n"+fuzzSDP,
			"Content-Type: application/sdp\r\nContent-Disposition: early-session\r\n\r\n"+fuzzEarly), "", "sip:bob@home2.net"},
		// RFC 3261 §20.10 display name with a comma, and an offerless INVITE.
		"display-comma": {"", nil, `"Smith, John" <sip:john@home1.net>`, `"Smith, John" <sip:john@home1.net>`},
		// RFC 4475 §3.1.1.11 mpart01 (a multipart that is not SDP at all), §3.3.6 invut.
		"rfc4475-mpart01": {`multipart/signed;protocol="application/pkcs7-signature";micalg=sha1;boundary="----=_NextPart_000_0000_01C2B3B9.B7D4B6C0"`,
			[]byte("------=_NextPart_000_0000_01C2B3B9.B7D4B6C0\r\nContent-Type: text/plain\r\n\r\nhello\r\n------=_NextPart_000_0000_01C2B3B9.B7D4B6C0--\r\n"),
			"", "sip:kumiko@example.org"},
		"rfc4475-invut": {"application/unknownformat", []byte("<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n"), "", "sip:caller@example.com"},
		// tel: with a phone-context, LF-only SDP, visual separators.
		"tel-context": {"application/sdp", []byte(strings.ReplaceAll(fuzzSDP, "\r\n", "\n")), "<tel:7042;phone-context=example.com>", "<tel:+1-(212)-555.2222>"},
	}
}

// fuzzCall is a call controller wired to a nullPlane: just enough state for addCallerCard.
func fuzzCall(page *content.Page) (*Call, *nullPlane) {
	plane := &nullPlane{open: map[string]*push.Session{}}
	c := &Call{env: testEnv(plane), callID: "fuzz@herald", events: make(chan any, 8), plan: call.Plan{CallerCard: page}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, plane
}

// rawInvite is an INVITE as it could arrive on the wire with these header values and body.
func rawInvite(ct string, body []byte, pai, from string) []byte {
	var b bytes.Buffer
	b.WriteString("INVITE tel:+1-212-555-2222 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfuzz\r\n")
	b.WriteString("From: " + from + ";tag=f1\r\nTo: <tel:+1-212-555-2222>\r\nCall-ID: fuzz@herald\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n")
	if pai != "" {
		b.WriteString("P-Asserted-Identity: " + pai + "\r\n")
	}
	if ct != "" {
		b.WriteString("Content-Type: " + ct + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

func FuzzInviteBody(f *testing.F) {
	for _, s := range inviteSeeds() {
		f.Add(s.ct, s.body, s.pai, s.from)
	}
	page, err := content.NewPage("caller-card.html", []byte("<!doctype html><title>card</title><p>hello</p>\n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte, pai, from string) {
		m, err := sip.ParseMessage(rawInvite(ct, body, pai, from))
		if err != nil {
			return // sipgo drops it before Herald sees it
		}
		req, ok := m.(*sip.Request)
		if !ok || req.From() == nil {
			return // Herald answers 400
		}

		// Identities: whatever Canonical makes of the caller (PAI, else From) and of the callee
		// (Request-URI) is a fixed point, so the same subscriber is found again under its key.
		// uriText prints the Request-URI and From as sipgo does (Herald looks profiles up by it).
		for _, u := range []*sip.Uri{&req.Recipient, &req.From().Address} {
			if got, want := uriText(u), u.String(); got != want && !strings.Contains(u.Host, ":") {
				t.Fatalf("uriText = %q, String = %q", got, want)
			}
		}
		for _, id := range []string{callerIdentity(req), req.Recipient.String()} {
			key, err := profile.Canonical(id)
			if err != nil {
				continue
			}
			again, err := profile.Canonical(key)
			if err != nil || again != key {
				t.Fatalf("Canonical(%q) = %q, but Canonical(%q) = %q, %v", id, key, key, again, err)
			}
		}

		// The callee's side of the same code: stripping an early-session part from a response body.
		if newCT, nb, stripped, err := sdp.StripEarlySession(ct, body); err == nil && stripped {
			if _, early, err := sdp.SplitBody(newCT, nb); err == nil && early != nil {
				t.Fatalf("early-session part left after stripping: %q", nb)
			}
		}

		// The caller card: added exactly as Herald does, or the INVITE left untouched.
		origCT, origBody := contentType(req), bytes.Clone(req.Body())
		c, plane := fuzzCall(page)
		fwd := req.Clone()
		err = c.addCallerCard(fwd)
		c.cancel()
		c.wg.Wait()
		if err != nil {
			if len(plane.open) != 0 {
				t.Fatalf("push session left open after %v", err)
			}
			if contentType(fwd) != origCT || !bytes.Equal(fwd.Body(), origBody) {
				t.Fatalf("refused body (%v) changed: %q %q", err, contentType(fwd), fwd.Body())
			}
			return
		}
		if len(plane.open) != 1 {
			t.Fatalf("%d push sessions open, want 1", len(plane.open))
		}
		if mt := sdp.MediaType(origCT); !knownBugSignedMultipart && mt != "application/sdp" && mt != "multipart/mixed" {
			t.Fatalf("early-session added to a %s body", mt)
		}
		newCT := contentType(fwd)
		sessOrig, _, _ := sdp.SplitBody(origCT, origBody)
		sessNew, early, err := sdp.SplitBody(newCT, fwd.Body())
		if err != nil || early == nil || !bytes.Equal(sessNew, sessOrig) {
			t.Fatalf("forwarded body: %v, early %t, session changed %t", err, early != nil, !bytes.Equal(sessNew, sessOrig))
		}
		// strip(add(x)) == x.
		backCT, back, stripped, err := sdp.StripEarlySession(newCT, fwd.Body())
		if err != nil || !stripped || !bytes.Equal(back, origBody) {
			t.Fatalf("strip(add(x)) != x: %v stripped %t\n%q\nwant\n%q", err, stripped, back, origBody)
		}
		if sdp.MediaType(backCT) != sdp.MediaType(origCT) && !(origCT == "" && len(origBody) == 0) {
			t.Fatalf("strip(add(x)) Content-Type %q, want %q", backCT, origCT)
		}
		// The forwarded INVITE goes on the wire and parses back with the same body (when sipgo can
		// round-trip the INVITE as received at all: it accepts some header values, such as a From of
		// "A:>", that it cannot parse again once written out).
		if _, err := sip.ParseMessage([]byte(req.String())); err != nil {
			return
		}
		m2, err := sip.ParseMessage([]byte(fwd.String()))
		if err != nil {
			t.Fatalf("forwarded INVITE does not parse: %v", err)
		}
		if !bytes.Equal(m2.Body(), fwd.Body()) || contentType(m2.(*sip.Request)) != newCT {
			t.Fatal("forwarded INVITE changes on the wire")
		}
	})
}

// TestInviteBodySeedCorpus keeps testdata/fuzz/FuzzInviteBody in step with inviteSeeds (and checks
// the committed files are there): go test -run TestInviteBodySeedCorpus -update-corpus.
func TestInviteBodySeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzInviteBody")
	for name, s := range inviteSeeds() {
		want := fmt.Sprintf("go test fuzz v1\nstring(%q)\n[]byte(%q)\nstring(%q)\nstring(%q)\n", s.ct, s.body, s.pai, s.from)
		path := filepath.Join(dir, name)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o600); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("seed %s out of date (%v): run go test -run TestInviteBodySeedCorpus -update-corpus", name, err)
		}
	}
}

// TestAddCallerCardSeeds pins what Herald does with each seed INVITE: add the early-session part
// (claim 1, RFC 3959) or forward the body untouched (issue 2: "forwarded untouched or answered
// 400/488, never crashes").
func TestAddCallerCardSeeds(t *testing.T) {
	page, err := content.NewPage("caller-card.html", []byte("<!doctype html><p>card</p>\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"std91-sdp": true, "sipi-multipart": true, "tel-context": true,
		"display-comma":   false, // offerless INVITE: no session SDP to pair an early-session with
		"rfc3959-early":   false, // already has one
		"rfc4475-mpart01": false, // multipart/signed: rewriting it breaks the signature (RFC 5621 §3.1)
		"rfc4475-invut":   false,
	} {
		t.Run(name, func(t *testing.T) {
			if name == "rfc4475-mpart01" && knownBugSignedMultipart {
				t.Skip("KNOWN BUG knownBugSignedMultipart: Herald adds an early-session part to multipart/signed")
			}
			s := inviteSeeds()[name]
			m, err := sip.ParseMessage(rawInvite(s.ct, s.body, s.pai, s.from))
			if err != nil {
				t.Fatal(err)
			}
			req := m.(*sip.Request)
			c, _ := fuzzCall(page)
			fwd := req.Clone()
			err = c.addCallerCard(fwd)
			c.cancel()
			c.wg.Wait()
			if added := err == nil; added != want {
				t.Fatalf("added %t (%v), want %t", added, err, want)
			}
			if !want {
				if !bytes.Equal(fwd.Body(), req.Body()) {
					t.Fatal("refused body changed")
				}
				return
			}
			parts, err := sdp.ParseMultipart(contentType(fwd), fwd.Body())
			if err != nil || len(parts) < 2 || !strings.HasPrefix(parts[len(parts)-1].Disposition, "early-session") {
				t.Fatalf("forwarded body: %d parts, %v", len(parts), err)
			}
		})
	}
}

// knownBugSignedMultipart: addCallerCard accepts every multipart/* body, so it inserts its
// early-session part into multipart/signed (invalidating the signature) and into bodies without any
// session SDP. TODO(lead): set to false with the invite.go fix in the H6 report.
const knownBugSignedMultipart = false

// knownBugPAIComma: callerIdentity cuts P-Asserted-Identity at the first comma, also inside a quoted
// display name, so "Smith, John" <sip:john@home1.net> is looked up as `"Smith` and the caller card is
// lost. TODO(lead): set to false with the invite.go fix in the H6 report.
const knownBugPAIComma = false

// TestCallerIdentity checks the caller identity Herald looks profiles up by (TS 24.229 §5.7: the
// first P-Asserted-Identity, else From) and its canonical key.
func TestCallerIdentity(t *testing.T) {
	for name, tc := range map[string]struct {
		pai, from, want string
		bug             bool
	}{
		"pai-tel-then-sip": {pai: "<tel:+1-212-555-1111>, <sip:alice@home1.net>", from: "<sip:x@y.net>", want: "+12125551111"},
		"pai-sip":          {pai: `"Alice" <sip:alice@home1.net>`, from: "<sip:x@y.net>", want: "alice@home1.net"},
		"from-user-phone":  {from: `"A" <sip:+1-212-555-1111@home1.net;user=phone>`, want: "+12125551111"},
		"from-tel":         {from: "<tel:+1-212-555-2222>", want: "+12125552222"},
		"pai-display-comma": {pai: `"Smith, John" <sip:john@home1.net>`, from: "<sip:x@y.net>", want: "john@home1.net",
			bug: knownBugPAIComma},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := sip.ParseMessage(rawInvite("", nil, tc.pai, tc.from))
			if err != nil {
				t.Fatal(err)
			}
			id := callerIdentity(m.(*sip.Request))
			got, err := profile.Canonical(id)
			if err != nil || got != tc.want {
				if tc.bug {
					t.Logf("KNOWN BUG: identity %q → %q, %v; want %q", id, got, err, tc.want)
					return
				}
				t.Fatalf("identity %q → %q, %v; want %q", id, got, err, tc.want)
			}
			if tc.bug {
				t.Errorf("fixed: set knownBugPAIComma to false")
			}
		})
	}
}
