package sdp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sha256FP is an RFC 8122 §5 style sha-256 fingerprint (32 pairs).
const sha256FP = "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3A:12:34:56:78:9A:BC:DE:F0:12:34:56"

func TestParseFingerprint(t *testing.T) {
	sha1 := "SHA-1 D1:E2:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14"
	tests := map[string]struct {
		in   string
		want Fingerprint
	}{
		"sha-256": {sha256FP, Fingerprint{"sha-256", []byte{
			0x4A, 0xAD, 0xB9, 0xB1, 0x3F, 0x82, 0x18, 0x3B, 0x54, 0x02, 0x12, 0xDF, 0x3E, 0x5D, 0x49, 0x6B,
			0x19, 0xE5, 0x7C, 0xAB, 0x3A, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x12, 0x34, 0x56}}},
		"upper-case hash func": {sha1, Fingerprint{"sha-1", []byte{
			0xD1, 0xE2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}}},
		"lower-case hex":    {strings.ToLower(sha256FP), Fingerprint{"sha-256", mustFP(t, sha256FP).Value}},
		"unknown hash func": {"x-hash 01", Fingerprint{"x-hash", []byte{1}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseFingerprint(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			back, err := ParseFingerprint(got.String())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip %q: %+v %v", got.String(), back, err)
			}
		})
	}
}

func TestParseFingerprintErrors(t *testing.T) {
	long := "x-hash " + strings.Repeat("AB:", 64) + "AB"
	for name, in := range map[string]string{
		"empty":               "",
		"no value":            "sha-256",
		"no hash func":        " AB:CD",
		"two spaces":          "sha-256  AB:CD",
		"trailing space":      sha256FP + " ",
		"tab separator":       "sha-256\tAB",
		"hash func not token": "sha/256 AB",
		"odd digit":           "x-hash ABC",
		"dash separator":      "x-hash AB-CD",
		"trailing colon":      "x-hash AB:",
		"leading colon":       "x-hash :AB",
		"non-hex":             "x-hash AG",
		"single digit":        "x-hash A",
		"sha-256 too short":   "sha-256 AB:CD",
		"sha-1 too long":      "sha-1 " + strings.Repeat("AB:", 20) + "AB",
		"longer than sha-512": long,
	} {
		if f, err := ParseFingerprint(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: %q gave %+v %v, want ErrSyntax", name, in, f, err)
		}
	}
}

// TestMSRPInfoFingerprints: media-level a=fingerprint overrides session-level ones (RFC 8122 §5);
// several are kept in order; a malformed one fails MSRP with ErrSyntax.
func TestMSRPInfoFingerprints(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	const m = "m=message 7394 TCP/TLS/MSRP *\r\na=path:msrps://192.0.2.1:7394/x;tcp\r\na=setup:passive\r\n"
	sess := "a=fingerprint:sha-1 " + strings.Repeat("11:", 19) + "11\r\n"
	media := "a=fingerprint:" + sha256FP + "\r\na=fingerprint:sha-512 " + strings.Repeat("22:", 63) + "22\r\n"
	tests := map[string]struct {
		sdp  string
		want []string
	}{
		"none":                      {head + m, nil},
		"session level":             {head + sess + m, []string{"sha-1 " + strings.Repeat("11:", 19) + "11"}},
		"media level, two":          {head + m + media, []string{sha256FP, "sha-512 " + strings.Repeat("22:", 63) + "22"}},
		"media overrides session":   {head + sess + m + media, []string{sha256FP, "sha-512 " + strings.Repeat("22:", 63) + "22"}},
		"plain msrp carries it too": {head + strings.Replace(m, "TCP/TLS/MSRP", "TCP/MSRP", 1) + media[:len("a=fingerprint:")+len(sha256FP)+2], []string{sha256FP}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, tc.sdp)
			info, err := s.Media[0].MSRP()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range info.Fingerprints {
				got = append(got, f.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fingerprints %q, want %q", got, tc.want)
			}
		})
	}
	// Session.AddMedia links the session-level fingerprint too.
	s := mustParse(t, head+sess)
	s.AddMedia(PushOffer{Port: 1, PathURI: "msrps://192.0.2.1:1/y;tcp", Secure: true}.Media())
	if info, err := s.Media[0].MSRP(); err != nil || len(info.Fingerprints) != 1 || info.Fingerprints[0].Hash != "sha-1" {
		t.Fatalf("AddMedia: %+v %v", info, err)
	}
	for name, bad := range map[string]string{
		"media":    head + m + "a=fingerprint:sha-256 AB\r\n",
		"session":  head + "a=fingerprint:sha-256\r\n" + m,
		"flag":     head + m + "a=fingerprint\r\n",
		"empty":    head + m + "a=fingerprint:\r\n",
		"bad hash": head + m + "a=fingerprint:sha 256 AB\r\n",
	} {
		if _, err := mustParse(t, bad).Media[0].MSRP(); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: %v, want ErrSyntax", name, err)
		}
	}
}

func mustFP(t *testing.T, v string) Fingerprint {
	t.Helper()
	f, err := ParseFingerprint(v)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
