package provision_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkAPIWrites measures provisioning writes per second through the whole API over loopback
// HTTP: bearer check, JSON or HTML decoding, sanitising (cards), and a durable write to core/store's
// Bolt (committed and fsync'd before the answer; concurrent requests share commits). Each parallel
// client writes its own subscriber, with the ETag of its previous answer, so none gets 412.
//
//	go test -run XXX -bench BenchmarkAPIWrites -benchtime 3s ./core/provision/
func BenchmarkAPIWrites(b *testing.B) {
	card := []byte("<!DOCTYPE html><html><head><title>Card</title><style>h1{color:#036}</style></head><body>" +
		"<h1>Alice</h1><p>" + strings.Repeat("Call me back, please. ", 40) + "</p><script>x()</script></body></html>")
	for _, op := range []string{"update", "card"} {
		b.Run("op="+op, func(b *testing.B) {
			g := newRig(b, nil)
			tr := &http.Transport{MaxIdleConnsPerHost: 256}
			b.Cleanup(tr.CloseIdleConnections)
			c := &http.Client{Transport: tr}
			var n atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := n.Add(1)
				s := g.createT(b, fmt.Sprintf("sip:bench%d@home1.net", i))
				etag, cardETag, v := s.ETag, "", 0
				for pb.Next() {
					v++
					var req *http.Request
					if op == "update" {
						body := fmt.Sprintf(`{"identities":["sip:bench%d@home1.net"],"push_capable":%t}`, i, v%2 == 0)
						req, _ = http.NewRequest("PUT", g.admin+"/v1/subscribers/"+s.ID, strings.NewReader(body))
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("If-Match", etag)
					} else {
						body := bytes.Replace(card, []byte("Alice"), []byte(fmt.Sprintf("Alice %d", v)), 1)
						req, _ = http.NewRequest("PUT", g.admin+"/v1/subscribers/"+s.ID+"/cards/caller", bytes.NewReader(body))
						req.Header.Set("Content-Type", "text/html; charset=utf-8")
						if cardETag == "" {
							req.Header.Set("If-None-Match", "*")
						} else {
							req.Header.Set("If-Match", cardETag)
						}
					}
					req.Header.Set("Authorization", "Bearer "+rwToken)
					res, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
					if res.StatusCode != 200 && res.StatusCode != 201 {
						b.Errorf("%s: %d", op, res.StatusCode)
						return
					}
					if op == "update" {
						etag = res.Header.Get("ETag")
					} else {
						cardETag = res.Header.Get("ETag")
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}
