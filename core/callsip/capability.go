package callsip

import (
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/push"
)

// capability.go is the gate that keeps Herald from breaking calls: the caller card's RFC 3959
// early-session part and the callee card's UPDATE offering m=message go only to terminals known to
// take them. Ordinary phones (baresip 1.0, linphone 5.1) do not ignore an early-session part marked
// handling=optional: they answer the multipart INVITE 500, or 200 without SDP and BYE, and they
// refuse the UPDATE (504). Knowledge comes from the profile (PushCapable, provisioned), from what
// Herald learned (profile.CapCache: an early-session answer, an accepted m=message line or a fetched
// page is a yes; a refusal a no) and, for the caller, from its INVITE (Caps.SaysPush). Everyone else
// gets the card as a Call-Info link (RFC 3261 §20.9), which every SIP stack tolerates.
//
// Probing (Env.Probe: core/signal's Options.Probe, off by default) sends the part to callees of
// unknown capability and, when one refuses it, sends the INVITE again without it. The resend is the
// same request (a proxy keeps Call-ID, From tag and CSeq) on a new branch, so a UAS doing RFC 3261
// §8.2.2.2 merged-request detection may answer it 482, and a single-line phone still holding the
// refused call 486 (seen with baresip 1.0 and linphone 5.1 depending on timing); that answer is
// relayed, and the callee is remembered as not capable, so its next call goes through with
// Call-Info only.

// party is a looked-up party (Host.Parties) as a plan needs it: the profile's part, with what Herald
// knows of the terminal, the key it learns under (the profile's primary key, else the canonical
// identity; "" when the URI has none) and whether the capability is provisioned. The party is
// made in into, and p is into; nil when Herald has neither a profile nor a lesson for the party.
func (e *Env) party(l LookedUp, into *call.Party) (p *call.Party, key string, provisioned bool) {
	key = l.Key
	if key == "" {
		return nil, "", false
	}
	if pr := l.Profile; pr != nil {
		key = pr.Key
		*into = call.Party{CallerCard: pr.CallerCard, CalleeCard: pr.CalleeCard, Ringback: pr.Ringback}
		p = into
		if pr.PushCapable {
			p.Terminal = call.TerminalCapable
			return p, key, true
		}
	}
	if capable, known := e.Capabilities.Lookup(key); known {
		if p == nil {
			*into = call.Party{}
			p = into
		}
		p.Terminal = call.TerminalIncapable
		if capable {
			p.Terminal = call.TerminalCapable
		}
	}
	return p, key, false
}

// learn records what a party's terminal showed, unless its capability is provisioned (the
// operator's word stands; a refusal by a provisioned terminal is logged).
func (c *Call) learn(key string, provisioned, capable bool, why string) {
	if key == "" {
		return
	}
	if provisioned {
		if !capable {
			c.env.Log.Info("terminal provisioned push_capable refused a push", "call_id", c.callID, "identity", key, "why", why)
		}
		return
	}
	c.env.Capabilities.Learn(key, capable)
	if c.env.tracing() {
		c.env.trace("herald: learned %s takes early-dialog pushes: %t (%s)", key, capable, why)
	}
}

// resendWithoutCard forwards the caller's INVITE again as Herald would to a callee not known to
// take the early-session part (the machine closed the caller card's session and remembered the
// callee): with the Call-Info link and the caller's body untouched. It returns the new client
// transaction, nil when it could not be sent (the refusal is then relayed as it is). Timer C keeps
// running: the resend is within the same budget.
func (c *Call) resendWithoutCard(res *sip.Response) sip.ClientTransaction {
	s := c.env
	kept := c.sessions[:0]
	for _, ps := range c.sessions {
		if ps.Role != push.CallerCard {
			kept = append(kept, ps)
		}
	}
	c.sessions = kept
	fwd := c.newForward()
	tx, err := s.Host.Invite(c.ctx, fwd, c.callID)
	if err != nil {
		s.Log.Info("INVITE without the early-session part not sent", "call_id", c.callID, "error", err)
		return nil
	}
	c.fwd = fwd
	s.Stats.Capability.Resent.Add(1)
	s.Log.Info("callee refused the early-session part; INVITE resent without it", "call_id", c.callID, "status", res.StatusCode)
	if s.tracing() {
		s.trace("herald: callee refused the early-session part (%d %s): INVITE resent without it, Call-Info only", res.StatusCode, res.Reason)
	}
	return tx
}

// brokenAnswerEnded tells the controller that Herald's ACK and BYE for a 2xx without a session
// answer (answerLacksSession) are done.
type brokenAnswerEnded struct{ res *sip.Response }

// endBrokenAnswer confirms and ends the callee's dialog of res, a 2xx without a session answer that
// was not relayed (ACK, then BYE, as for a 2xx after CANCEL), off the controller; the INVITE is resent
// without the part once the BYE is answered (or timed out), so a single-line phone that still holds
// the broken call does not answer the resend 486.
func (c *Call) endBrokenAnswer(res *sip.Response) {
	inv := c.fwd
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.env.Host.AckAndBye(inv, res)
		select {
		case c.events <- brokenAnswerEnded{res}:
		case <-c.ctx.Done():
		}
	}()
}
