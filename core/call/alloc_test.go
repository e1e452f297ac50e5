package call

import (
	"testing"

	"github.com/herald-ims/herald/core/sdp"
)

// pushCallEvents are a push call's events as its controller hands them over: both cards offered,
// bound and delivered, Herald's reliable 183 PRACKed, the UPDATE answered, the callee's 200.
var pushCallEvents = []Event{fwd, callerBound, callerGot, res(180), {Kind: EvRingback, Lines: 1}, prack,
	{Kind: EvRingback, Started: true, Lines: 1}, updSent, upd200, calleeBound, calleeGot, res(200), {Kind: EvEnd}}

// TestMachineAllocs: a push call's machine allocates itself and nothing else (its batches of
// actions and its trails start on its own arrays; it took seven allocations before); held by value
// (Init), not even that.
func TestMachineAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	var c *Call
	if n := testing.AllocsPerRun(100, func() {
		c = New(cfgFull)
		for _, ev := range pushCallEvents {
			c.Handle(ev)
		}
	}); n != 1 {
		t.Errorf("a push call's machine: %v allocations, want 1", n)
	}
	if c.Phase() != Answered || len(c.Phases()) != 2 || len(c.EarlyTrail()) != 7 {
		t.Fatalf("phase %v, trail %v, early trail %v", c.Phase(), c.Phases(), c.EarlyTrail())
	}
	var held Call
	if n := testing.AllocsPerRun(100, func() {
		held.Init(cfgFull)
		for _, ev := range pushCallEvents {
			held.Handle(ev)
		}
	}); n != 0 {
		t.Errorf("a push call's machine held by value: %v allocations, want 0", n)
	}
}

// TestUpdateOfferAllocs: the media request message's offer is a copy of Herald's SDP and a copy of
// its m-lines with room for the push line (three allocations before: the push line's append grew
// the copy).
func TestUpdateOfferAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	cur, err := sdp.Parse([]byte("v=0\r\no=herald 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
		"m=audio 9 RTP/AVP 0\r\na=inactive\r\nm=video 9 RTP/AVP 98\r\na=inactive\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	push := &sdp.Media{Type: "message", Port: 2855, Proto: "TCP/MSRP", Formats: []string{"*"}}
	var got *sdp.Session
	if n := testing.AllocsPerRun(100, func() { got = UpdateOffer(cur, "192.0.2.10", 1, push) }); n != 2 {
		t.Errorf("UpdateOffer: %v allocations, want 2", n)
	}
	if len(got.Media) != 3 || got.Media[2] != push || len(cur.Media) != 2 || got.Origin.SessVersion != "2" {
		t.Fatalf("offer %d m-lines, version %s; current %d m-lines", len(got.Media), got.Origin.SessVersion, len(cur.Media))
	}
}
