package sdp

import (
	"errors"
	"reflect"
	"testing"
)

func TestMSRPInfo(t *testing.T) {
	card := &FileSelector{Name: "caller-card.html", Type: "text/html", Size: 18432, Hash: fileHash}
	tests := map[string]struct {
		sdp   string
		media int
		want  MSRPInfo
	}{
		"std92 push offer": {std92Early, 0, MSRPInfo{
			Path:         []string{"msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp"},
			Setup:        "actpass",
			CEMA:         true,
			AcceptTypes:  []string{"text/html", "multipart/related"},
			Direction:    SendOnly,
			FileSelector: card,
			TransferID:   "vBnG0ZeBq7",
			Port:         2855,
			Proto:        ProtoMSRP,
			ConnAddr:     "192.0.2.10", // session-level c=
		}},
		"std93 callee answer": {std93Early, 0, MSRPInfo{
			Path:         []string{"msrp://10.1.2.3:9/aQ3xT8pR;tcp"},
			Setup:        "active",
			CEMA:         true,
			AcceptTypes:  []string{"text/html", "multipart/related"},
			Direction:    RecvOnly,
			FileSelector: card,
			TransferID:   "vBnG0ZeBq7",
			Port:         9,
			Proto:        ProtoMSRP,
			ConnAddr:     "10.1.2.3",
		}},
		"std94 update third m-line": {std94Update, 2, MSRPInfo{
			Path:        []string{"msrp://ps.home1.net:2855/Zr8cV2nQ0wHs5Jk7Tb4E;tcp"},
			Setup:       "actpass",
			CEMA:        true,
			AcceptTypes: []string{"text/html", "multipart/related"},
			Direction:   SendOnly,
			FileSelector: &FileSelector{Name: "callee-page.html", Type: "text/html", Size: 9120,
				Hash: "sha-1:0A:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:9F"},
			TransferID: "Q7w2Ls9x",
			Port:       2855,
			Proto:      ProtoMSRP,
			ConnAddr:   "192.0.2.10", // media-level c= overrides 192.0.2.11
		}},
		"relay path tls max-size": {`v=0
o=- 1 1 IN IP6 2001:db8::1
s=-
c=IN IP6 2001:db8::1
t=0 0
m=message 7394 TCP/TLS/MSRP *
a=accept-types:message/cpim text/plain
a=accept-wrapped-types:*
a=max-size:131072
a=path:msrps://relay.example.com:2855/r1;tcp
a=path:msrps://[2001:db8::1]:7394/x2;tcp
a=connection:new
`, 0, MSRPInfo{
			Path:        []string{"msrps://relay.example.com:2855/r1;tcp", "msrps://[2001:db8::1]:7394/x2;tcp"},
			AcceptTypes: []string{"message/cpim", "text/plain"},
			MaxSize:     131072,
			Direction:   SendRecv,
			Port:        7394,
			Proto:       ProtoMSRPTLS,
			ConnAddr:    "2001:db8::1",
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, crlf(tc.sdp))
			got, err := s.Media[tc.media].MSRP()
			if err != nil {
				t.Fatalf("MSRP: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("MSRP =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestMSRPInfoErrors(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
	tests := map[string]struct {
		media string
		want  error
	}{
		"audio":         {"m=audio 4000 RTP/AVP 0\r\n", ErrNotMSRP},
		"message rtp":   {"m=message 4000 RTP/AVP 0\r\na=path:msrp://a:1/x;tcp\r\n", ErrNotMSRP},
		"tls, any case": {"m=MESSAGE 4000 tcp/tls/msrp *\r\na=setup:active\r\n", ErrNoPath},
		"message udp":   {"m=message 4000 UDP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\n", ErrNotMSRP},
		"no path":       {"m=message 4000 TCP/MSRP *\r\na=setup:active\r\n", ErrNoPath},
		"empty path":    {"m=message 4000 TCP/MSRP *\r\na=path: \r\n", ErrNoPath},
		"bad max-size":  {"m=message 4000 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=max-size:-5\r\n", ErrSyntax},
		"bad selector":  {"m=message 4000 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=file-selector:size:x\r\n", ErrSyntax},
		"bad hash":      {"m=message 4000 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=file-selector:hash:sha-1:7\r\n", ErrSyntax},
		"unquoted name": {"m=message 4000 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=file-selector:name:a.html\r\n", ErrSyntax},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, head+tc.media)
			if _, err := s.Media[0].MSRP(); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			// IsMSRP is false exactly where MSRP fails with ErrNotMSRP.
			if got := s.Media[0].IsMSRP(); got == (tc.want == ErrNotMSRP) {
				t.Errorf("IsMSRP = %v with MSRP's error %v", got, tc.want)
			}
		})
	}
}

func TestFileSelector(t *testing.T) {
	tests := map[string]struct {
		in   string
		want FileSelector
		out  string // String(); "" means same as in
	}{
		"std92": {`name:"caller-card.html" type:text/html size:18432 hash:` + fileHash,
			FileSelector{"caller-card.html", "text/html", 18432, fileHash}, ""},
		"spaces in name": {`name:"a b.html" type:text/html size:18432`,
			FileSelector{Name: "a b.html", Type: "text/html", Size: 18432}, ""},
		"other order": {`size:10 hash:sha-256:aa:BB name:"x.jpg" type:image/jpeg`,
			FileSelector{"x.jpg", "image/jpeg", 10, "sha-256:aa:BB"}, `name:"x.jpg" type:image/jpeg size:10 hash:sha-256:aa:BB`},
		"percent encoded": {`name:"say %22hi%22 100%25.txt"`,
			FileSelector{Name: `say "hi" 100%.txt`}, ""},
		"type params": {`type:text/html;charset="utf 8" size:5`,
			FileSelector{Type: `text/html;charset="utf 8"`, Size: 5}, ""},
		"unknown selector skipped": {`name:"a" icon:cid:x size:1`,
			FileSelector{Name: "a", Size: 1}, `name:"a" size:1`},
		"empty":       {"", FileSelector{}, ""},
		"extra space": {` name:"a"   size:1 `, FileSelector{Name: "a", Size: 1}, `name:"a" size:1`},
		"utf8 name":   {`name:"Карта.html"`, FileSelector{Name: "Карта.html"}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseFileSelector(tc.in)
			if err != nil {
				t.Fatalf("ParseFileSelector: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			out := tc.out
			if out == "" {
				out = tc.in
			}
			if s := got.String(); s != out {
				t.Errorf("String = %q, want %q", s, out)
			}
			if n := testing.AllocsPerRun(20, func() { _ = got.String() }); n > 1 {
				t.Errorf("String allocates %v times, want 1", n)
			}
		})
	}
}

func TestFileSelectorErrors(t *testing.T) {
	for name, in := range map[string]string{
		"no value":        `name`,
		"unquoted name":   `name:a.html`,
		"open quote":      `name:"a.html`,
		"quote in name":   `name:"a""b"`,
		"bad percent":     `name:"a%zz"`,
		"short percent":   `name:"a%2"`,
		"bad size":        `size:12a`,
		"signed size":     `size:+12`,
		"huge size":       `size:99999999999999999999`,
		"bad type":        `type:texthtml`,
		"slash type":      `type:/html`,
		"hash no alg":     `hash::AA`,
		"hash odd digits": `hash:sha-1:AAA`,
		"hash not hex":    `hash:sha-1:GG`,
		"hash empty":      `hash:sha-1:`,
		"repeated size":   `size:1 size:2`,
		"repeated name":   `name:"a" name:"b"`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseFileSelector(in); !errors.Is(err, ErrSyntax) {
				t.Errorf("err = %v, want ErrSyntax", err)
			}
		})
	}
}

// TestPushOfferStd92 builds Herald's early-session push offer (RFC 3959 part; m=message with RFC
// 4975 §8 a=path, RFC 5547 file attributes, RFC 6135 a=setup, RFC 6714 a=msrp-cema) and
// compares it byte-for-byte.
func TestPushOfferStd92(t *testing.T) {
	s := NewSession("ps", "192.0.2.10", 2890844526)
	s.AddMedia(PushOffer{
		Port:         2855,
		PathURI:      "msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp",
		AcceptTypes:  []string{"text/html", "multipart/related"},
		FileSelector: FileSelector{Name: "caller-card.html", Type: "text/html", Size: 18432, Hash: fileHash},
		TransferID:   "vBnG0ZeBq7",
		Disposition:  "render",
	}.Media())
	if got, want := string(s.Marshal()), crlf(std92Early); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	info, err := s.Media[0].MSRP()
	if err != nil || info.ConnAddr != "192.0.2.10" {
		t.Errorf("MSRP of built media: %+v %v", info, err)
	}
}

func TestPushOfferVariants(t *testing.T) {
	m := PushOffer{Host: "2001:db8::10", Port: 2856, PathURI: "msrps://[2001:db8::10]:2856/s;tcp", Secure: true,
		FileSelector: FileSelector{Type: "text/html;charset=utf-8"}}.Media()
	if m.Proto != ProtoMSRPTLS || m.Conn != "IN IP6 2001:db8::10" {
		t.Errorf("proto %q conn %q", m.Proto, m.Conn)
	}
	if v, _ := m.Attr("accept-types"); v != "text/html" {
		t.Errorf("default accept-types = %q", v)
	}
	if m.Has("file-transfer-id") || m.Has("file-disposition") {
		t.Errorf("empty attributes written: %+v", m.Attrs)
	}
	info, err := m.MSRP()
	if err != nil || info.ConnAddr != "2001:db8::10" || info.Direction != SendOnly || info.Setup != "actpass" || !info.CEMA {
		t.Errorf("MSRP = %+v, %v", info, err)
	}
	if v, _ := (PushOffer{PathURI: "msrp://a:1/b;tcp"}).Media().Attr("accept-types"); v != "*" {
		t.Errorf("bare accept-types = %q", v)
	}
}

func TestNewSession(t *testing.T) {
	want := "v=0\r\no=ps 42 42 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n"
	if got := string(NewSession("ps", "2001:db8::1", 42).Marshal()); got != want {
		t.Errorf("got %q", got)
	}
}

// TestMSRPInfoSlicesIndependent: Path and AcceptTypes share one allocation (with the file selector
// when they fit in it, or not); each is capped at its end, so an append to one copies instead of
// writing over the other, and a line without accept-types has none (nil, as before).
func TestMSRPInfoSlicesIndependent(t *testing.T) {
	for name, src := range map[string]string{
		"fits":   crlf(std93Early),
		"spills": crlf(std93Early) + "a=path:msrp://relay.example.net:2855/r1;tcp msrp://10.1.2.3:9/x;tcp\r\na=accept-types:text/plain message/cpim\r\n",
	} {
		info, err := mustParse(t, src).Media[0].MSRP()
		if err != nil {
			t.Fatal(err)
		}
		types := append([]string(nil), info.AcceptTypes...)
		path := append(info.Path, "msrp://extra/;tcp")
		_ = append(info.AcceptTypes, "x/y")
		if !reflect.DeepEqual(info.AcceptTypes, types) || len(path) != len(info.Path)+1 {
			t.Errorf("%s: an append to Path or AcceptTypes changed the other: %q %q", name, info.AcceptTypes, types)
		}
		if info.FileSelector == nil || info.FileSelector.Size != 18432 {
			t.Errorf("%s: file selector %+v", name, info.FileSelector)
		}
	}
	info, err := mustParse(t, crlf("v=0\no=- 1 1 IN IP4 10.1.2.3\ns=-\nm=message 9 TCP/MSRP *\na=path:msrp://a/;tcp\n")).Media[0].MSRP()
	if err != nil || info.AcceptTypes != nil || info.FileSelector != nil || len(info.Path) != 1 {
		t.Errorf("without accept-types: %+v %v", info, err)
	}
}
