package uesim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFetch(t *testing.T) {
	page := testPage(5000)
	tests := map[string]struct {
		setup      func(s *pushServer)
		opts       func(o *FetchOptions)
		wantErr    error
		wantResp   int    // chunk responses seen by the server
		wantReport string // prefix of the REPORT seen by the server; "" means none
	}{
		"verified page with chunk responses": {
			wantResp: 3, wantReport: "000 200 OK",
		},
		"page written in small pieces": {
			setup:    func(s *pushServer) { s.dribble = true },
			wantResp: 3, wantReport: "000 200 OK",
		},
		"no chunk responses": {
			opts:     func(o *FetchOptions) { o.NoChunkResponses = true },
			wantResp: 0, wantReport: "000 200 OK",
		},
		"hash mismatch": {
			opts:     func(o *FetchOptions) { o.Hash = HashSelector([]byte("other page")) },
			wantErr:  ErrPageHash,
			wantResp: 3, wantReport: "000 400",
		},
		"size mismatch": {
			opts:     func(o *FetchOptions) { o.Size = 4999 },
			wantErr:  ErrPageSize,
			wantResp: 3, wantReport: "000 400",
		},
		"aborted by sender": {
			setup:    func(s *pushServer) { s.abortAfter = 2 },
			wantErr:  ErrAborted,
			wantResp: 2,
		},
		"acquisition refused": {
			setup:   func(s *pushServer) { s.bindStatus = 481 },
			wantErr: ErrMSRPStatus,
		},
		"sender silent": {
			setup:   func(s *pushServer) { s.silent = true },
			opts:    func(o *FetchOptions) { o.Timeout = 200 * time.Millisecond },
			wantErr: ErrTimeout,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newPushServer(t, page)
			if tc.setup != nil {
				tc.setup(s)
			}
			own := "msrp://127.0.0.1:9/ownsession1;tcp"
			o := FetchOptions{Addr: s.ln.Addr().String(), ToPath: s.path(), FromPath: own,
				Size: int64(len(page)), Hash: HashSelector(page), Timeout: 3 * time.Second}
			if tc.opts != nil {
				tc.opts(&o)
			}
			res, err := Fetch(context.Background(), o)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Fetch error = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				if string(res.Page) != string(page) || res.Chunks != 3 || res.ContentType != "text/html" {
					t.Errorf("page %d bytes, %d chunks, type %q", len(res.Page), res.Chunks, res.ContentType)
				}
			}
			if tc.setup != nil && s.silent {
				return
			}
			bindTo, resp, reports := s.wait(t)
			if bindTo != s.path() {
				t.Errorf("acquisition To-Path = %q, want %q", bindTo, s.path())
			}
			if errors.Is(tc.wantErr, ErrMSRPStatus) {
				return
			}
			if resp != tc.wantResp {
				t.Errorf("chunk responses = %d, want %d", resp, tc.wantResp)
			}
			if tc.wantReport == "" {
				if len(reports) != 0 {
					t.Errorf("reports = %q, want none", reports)
				}
				return
			}
			if len(reports) != 1 || !strings.HasPrefix(reports[0], tc.wantReport) ||
				!strings.Contains(reports[0], " 1-5000/5000 "+s.path()) {
				t.Errorf("reports = %q, want one %q with Byte-Range 1-5000/5000 to %s", reports, tc.wantReport, s.path())
			}
		})
	}
}

func TestHashSelector(t *testing.T) {
	// SHA-1("abc") = a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d (FIPS 180-2 example).
	want := "sha-1:A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D"
	if got := HashSelector([]byte("abc")); got != want {
		t.Fatalf("HashSelector = %q, want %q", got, want)
	}
	if err := verifyPage([]byte("abc"), 3, strings.ToLower(want)); err != nil {
		t.Fatalf("verifyPage lower-case hash: %v", err)
	}
}

// TestVerifyPageRemembers: a page once checked against its hash is accepted again by comparing its
// bytes, and different bytes under the same hash (a truncated or altered page) still fail: the
// remembered page is only a shortcut to the same answer.
func TestVerifyPageRemembers(t *testing.T) {
	page := []byte("<html>remembered card</html>")
	sel := HashSelector(page)
	for i := range 2 {
		if err := verifyPage(page, int64(len(page)), sel); err != nil {
			t.Fatalf("check %d of the right page: %v", i, err)
		}
	}
	if _, ok := verified.Load(normHash(sel)); !ok {
		t.Fatal("a verified page was not remembered")
	}
	bad := append([]byte(nil), page...)
	bad[7] = 'R'
	if err := verifyPage(bad, int64(len(bad)), sel); !errors.Is(err, ErrPageHash) {
		t.Fatalf("altered page of the same size under the remembered hash: %v, want ErrPageHash", err)
	}
}
