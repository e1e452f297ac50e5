package msrp

import "github.com/herald-ims/herald/core/push"

// Forked offers. The caller card's early-session offer (RFC 3959) goes out in the forwarded INVITE,
// which the S-CSCF forks to every device the callee registered (RFC 3261 §16.6; 3GPP TS 24.229
// §5.4.3.3): one offer, one a=path, one session-id, and as many early dialogs as devices, each
// answering the offer and, being setup:active, connecting to Herald's a=path with its own acquisition
// SEND (RFC 4975 §5.4). RFC 4975 identifies the session by the URI in the To-Path and tells the
// terminals apart by their From-Path; nothing in it forbids several answerers of one offer from each
// opening a session to the offerer's URI. So a session opened Forkable (push.Session.Forkable) takes
// further bindings:
//
//   - The first binding is THE binding: the call hears of it (NotifyBound) and of its one result,
//     exactly as for any session.
//   - Each further binding, while the session is open, gets its own transfer of the same immutable page
//     (the variant e.accept chooses at its bind). Its outcome is counted (Stats: ForkedBinds, the
//     Deliveries* of its outcome, ForkedDeliveriesOK) and never reported: the call hears one result.
//   - At most Options.MaxForkBinds terminals bind one session, the first included; a further one gets
//     506 (RFC 4975 §10, session already in use), counted in ForkBindsRefused.
//   - The session stays in the table after its result, until Close (the call closes every session it
//     opened at its end: answer, reject, cancel), which aborts every transfer in flight with '#' (RFC
//     4975 §7.1) and retires it at once; or until its bind deadline (sess.Expires), from which it takes
//     no binding and leaves the table once no transfer of it is in flight.
//
// Herald active (Connect, active.go) stays single-binding: a Connect on a bound or dialling session
// fails with ErrAlreadyBound as for any session, and while Herald dials, a terminal's acquisition
// request gets 506. Once the dialled connection is bound it is the first binding, and later terminals
// connecting to Herald bind as forks.

// verdict is claim's answer to an acquisition request.
type verdict uint8

const (
	claimFirst  verdict = iota // the session's binding
	claimFork                  // a further binding of a Forkable session
	claimClosed                // closed, finished or past its deadline: 481
	claimBusy                  // bound (not Forkable) or being dialled: 506
	claimCapped                // Forkable, MaxForkBinds terminals bound already: 506
)

// claim decides whether cs binds e and records the binding.
func (s *Server) claim(e *entry, cs *connState) verdict {
	e.mu.Lock()
	defer e.mu.Unlock()
	v := claimFirst
	switch {
	case e.closed:
		return claimClosed
	case e.dialing:
		return claimBusy
	case e.binds == 0:
	case !e.sess.Forkable:
		return claimBusy
	case int(e.binds) >= s.opts.MaxForkBinds:
		return claimCapped
	default:
		cs.fork, v = true, claimFork
	}
	cs.nextBound, e.conn = e.conn, cs
	e.binds++
	return v
}

// settle ends the connection's part in its session with res, once (cs.e is cleared): the result of a
// session that is not Forkable ends it (finish); a Forkable one's transfers end in transferEnded.
func (cs *connState) settle(res push.Result) {
	e := cs.e
	if e == nil {
		return
	}
	cs.e = nil
	if !e.sess.Forkable {
		cs.s.finish(e, res)
		return
	}
	cs.s.transferEnded(e, cs, res)
}

// transferEnded takes the end of one transfer of a Forkable session: the first binding's result is
// the session's (reported once), a further binding's is counted only. A session closed by its bind
// deadline is retired with its last transfer.
func (s *Server) transferEnded(e *entry, cs *connState, res push.Result) {
	e.mu.Lock()
	for p := &e.conn; *p != nil; p = &(*p).nextBound {
		if *p == cs {
			*p, cs.nextBound = cs.nextBound, nil
			break
		}
	}
	idle := e.closed && e.conn == nil
	e.mu.Unlock()
	if cs.fork {
		s.st.outcome(res.Outcome)
		if res.Outcome == push.Delivered {
			s.st.forkedDelivered.Add(1)
		}
	} else {
		s.report(e, res)
	}
	if idle {
		s.retire(e)
	}
}
