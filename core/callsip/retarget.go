package callsip

import (
	"net/netip"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sipmsg"
)

// retarget.go: RFC 3263 §4.3 for a forwarded INVITE sipgo sends (over TCP or TLS, where nothing is
// sent again, or over UDP when the engine could not carry it). Every INVITE server transaction
// answers at least 100 Trying within 200 ms (RFC 3261 §17.2.1), so a next hop that has passed up
// no response at all within 7·T1 (3.5 s, when a UDP INVITE is retransmitted the third time) is
// taken for dead: it is marked down, and when its name has another target the INVITE goes there
// as a new request with a new branch, its old transaction let go. Otherwise the call waits for
// Timer B as before. The engine does the same for the INVITEs it carries (sipfast's retarget).

// silence is posted 7·T1 after a client transaction was listened to; stale once it passed a
// response up, or once it is not the current one.
type silence struct{ tx sip.ClientTransaction }

// watchSilence arms the 7·T1 check of tx, the transaction of c.fwd, toward a name: an address has
// no other target, and the engine's transactions watch themselves.
func (c *Call) watchSilence(tx sip.ClientTransaction) {
	c.heard = false
	if _, engine := tx.(tryPassUp); engine || c.fwd == nil {
		return
	}
	if _, err := netip.ParseAddrPort(c.fwd.Destination()); err == nil {
		return
	}
	events, gone, ev := c.events, c.ctx.Done(), &silence{tx}
	time.AfterFunc(7*c.env.T1, func() { postEvent(events, gone, ev) })
}

// retarget sends the forwarded INVITE, which had no response within 7·T1, to the next target of
// its next hop's name, if there is one: a copy without Herald's Via (a new branch), since the old
// transaction may still read the request it sent.
func (c *Call) retarget() {
	s, fwd, old := c.env, c.fwd, c.clTx
	if fwd == nil || c.done || c.m.Canceled() || !s.Host.DownAt(fwd) {
		return
	}
	again := fwd.Clone()
	sipmsg.Unsent(again)
	tx, err := s.Host.Invite(c.ctx, again, c.callID)
	if err != nil {
		s.Log.Info("forwarded INVITE unanswered; its next target refused it too", "call_id", c.callID, "error", err)
		return
	}
	old.Terminate()
	c.fwd = again
	c.listen(tx)
	s.trace("herald: next hop silent for 7*T1: INVITE sent to the next target (RFC 3263 §4.3)")
}
