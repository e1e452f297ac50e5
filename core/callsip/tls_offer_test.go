package callsip

import (
	"context"
	"strings"
	"testing"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/push"
)

// tlsPlane is a plane with an msrps listener on port 2856.
type tlsPlane struct{ fakePlane }

func (tlsPlane) TLSAddr() (string, int) { return "192.0.2.10", 2856 }

func (tlsPlane) PathURI(id string) string { return "msrps://192.0.2.10:2856/" + id + ";tcp" }

// TestOfferTLS: with OfferTLS and a TLS listener, pushes are offered as msrps (RFC 4975 §6: the
// a=path scheme matches the socket) on the TLS port, and the session only binds over TLS.
func TestOfferTLS(t *testing.T) {
	page, err := content.NewPage("card.html", []byte("<!DOCTYPE html><html><body>card</body></html>"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		offerTLS  bool
		plane     push.Plane
		secure    bool
		proto     string
		port      int
		pathStart string
	}{
		{"tls offered", true, tlsPlane{}, true, "TCP/TLS/MSRP", 2856, "msrps://"},
		{"tls not configured", false, tlsPlane{}, false, "TCP/MSRP", 2855, "msrp"},
		{"plane without tls", true, fakePlane{}, false, "TCP/MSRP", 2855, "msrp://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(tc.plane)
			env.OfferTLS = tc.offerTLS
			c := &Call{env: env, plan: call.Plan{CallerCard: page}, events: make(chan any, 1)}
			c.ctx, c.cancel = context.WithCancel(context.Background())
			defer func() { c.cancel(); c.wg.Wait() }()
			ps, offer, err := c.openPush(push.CallerCard, page)
			if err != nil {
				t.Fatal(err)
			}
			m := offer.Media()
			if ps.Secure != tc.secure || m.Proto != tc.proto || m.Port != tc.port || !strings.HasPrefix(offer.PathURI, tc.pathStart) {
				t.Fatalf("secure %t proto %s port %d path %s", ps.Secure, m.Proto, m.Port, offer.PathURI)
			}
		})
	}
}
