package callsip

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// silentHost is the rig's host with a next hop named by a domain of two targets (DownAt reports
// another one), whose Invite adds a Via of Herald's with a new branch each time, as sipgo's client
// does (ClientRequestAddVia), and records what it was given.
type silentHost struct {
	*rigHost
	downs   atomic.Int32
	invites chan *sip.Request
	n       atomic.Int32
}

func (h *silentHost) Forward(req *sip.Request) *sip.Request {
	f := req.Clone()
	f.SetDestination("scscf.home1.net:0")
	f.SetTransport("TCP")
	return f
}

func (h *silentHost) DownAt(req *sip.Request) bool {
	h.downs.Add(1)
	return req.Transport() == "TCP" && req.Destination() == "scscf.home1.net:0"
}

func (h *silentHost) Invite(ctx context.Context, fwd *sip.Request, callID string) (sip.ClientTransaction, error) {
	fwd.PrependHeader(sip.NewHeader("Via", "SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK-herald-"+string(rune('0'+h.n.Add(1)))))
	if mf := fwd.MaxForwards(); mf != nil {
		mf.Dec()
	}
	h.invites <- fwd
	return h.rigHost.Invite(ctx, fwd, callID)
}

// A forwarded INVITE toward a named next hop that passes up no response within 7·T1 goes, as a
// copy with a new branch of Herald's and nothing else changed, on a new transaction to the name's
// next target (RFC 3263 §4.3), its first transaction let go; one the caller cancelled meanwhile
// does not.
func TestRetargetSilentNextHop(t *testing.T) {
	for _, cancel := range []bool{false, true} {
		t.Run(map[bool]string{false: "silent", true: "cancelled"}[cancel], func(t *testing.T) {
			r := newRig(t)
			h := &silentHost{rigHost: r.host, invites: make(chan *sip.Request, 2)}
			r.env.Host, r.env.T1 = h, 10*time.Millisecond
			m := newRigMessages(t)
			c := New(r.env, m.invite, r.stx, "rig-1@192.0.2.1", "h1", time.Now())
			go c.Run(r.end)
			first := <-h.invites
			tx1 := <-r.host.tx
			<-tx1.set
			if cancel {
				c.events <- cancelled{}
			}
			select {
			case again := <-h.invites:
				if cancel {
					t.Fatalf("a cancelled call's INVITE sent again:\n%s", again)
				}
				tx2 := <-r.host.tx
				<-tx2.set
				v1, v2 := first.GetHeaders("Via"), again.GetHeaders("Via")
				if len(v1) != 2 || len(v2) != 2 || v1[0].Value() == v2[0].Value() || v1[1].Value() != v2[1].Value() ||
					!strings.Contains(v2[0].Value(), "z9hG4bK-herald-2") {
					t.Fatalf("Vias %q then %q; want Herald's with a new branch over the caller's", v1, v2)
				}
				if first.MaxForwards().Val() != again.MaxForwards().Val() || string(first.Body()) != string(again.Body()) {
					t.Fatalf("Max-Forwards %d then %d, or the body changed", first.MaxForwards().Val(), again.MaxForwards().Val())
				}
				if h.downs.Load() != 1 {
					t.Fatalf("DownAt asked %d times, want 1", h.downs.Load())
				}
				tx2.passUp(m.ringing) // the next target answers: the call goes on from it
				if prov := <-r.stx.resp; prov.StatusCode != 183 {
					t.Fatalf("after the next target's 180: Herald sent %d upstream, want its reliable 183", prov.StatusCode)
				}
			case <-time.After(50 * r.env.T1):
				if !cancel {
					t.Fatal("no INVITE to the next target within 50·T1")
				}
			}
			c.events <- drainAbort{}
		})
	}
}
