package msrp

import (
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// TestRelayedPaths (RFC 4976): a bind that reached Herald through a relay carries From-Path
// "relay terminal" (nearest hop first) and a To-Path that may still list hops before Herald. The 200
// goes to the previous hop only; the chunks go back along the whole reversed route; Herald's From-Path
// is its own URI (the last of the To-Path).
func TestRelayedPaths(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 5000)
	sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
	herald := s.PathURI(sess.ID)
	const relay = "msrp://127.0.0.1:2856/relaysess;tcp"
	c := dial(t, s)
	c.path = relay + " msrp://127.0.0.1:9/terminal;tcp"
	c.bind(relay + " " + herald)
	f := c.mustNext(2 * time.Second)
	if f.Status != 200 || f.ToPath != relay || f.FromPath != herald {
		t.Fatalf("bind answer %d To %q From %q", f.Status, f.ToPath, f.FromPath)
	}
	r := c.receivePage(2*time.Second, true)
	for _, ch := range r.frames {
		if ch.ToPath != c.path || ch.FromPath != herald {
			t.Fatalf("chunk To %q From %q", ch.ToPath, ch.FromPath)
		}
	}
	n := int64(len(r.body))
	c.report(herald, r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Delivered {
		t.Fatalf("result %+v", res)
	}
}
