package call

// push.go: the machine's half of the push sessions (claims 1, 3, 4, 5, 7). The machine decides
// each session's end (ActClosePush, once per session opened) and hears of it as the MSRP plane
// reports it: a terminal bound to it (EvPushBound), its one result (EvPushDone).

// closePush is the one place a push session's end is decided: once per session.
func (c *Call) closePush(card Card) {
	if c.open[card] {
		c.open[card] = false
		if c.push[card] == PushOffered || c.push[card] == PushBound {
			c.push[card] = PushClosed
		}
		c.do(Action{Kind: ActClosePush, Card: card})
	}
}

// opened records card's push session as open (offered in the INVITE or the UPDATE), or not.
func (c *Call) opened(card Card, open bool) {
	c.open[card] = open
	if open {
		c.push[card] = PushOffered
	}
}

// pushBound: the MSRP plane bound a terminal's connection and acquisition request to card's
// session (claims 1, 4: the MSRP-TCP connection with the called, then the calling terminal; RFC
// 4975 §5.4: the session is identified by the session-id in the request's To-Path). While the
// session is open the binding stands and the page goes; the caller's terminal may bind to the
// callee card before its 200 (UPDATE) reaches Herald. A binding to a session the call closed
// already (the answer, the CANCEL, a refused UPDATE, the resend without the part) raced the close:
// it is ended ('#' on the transfer, RFC 4975 §7.1.1) and counted. A second report, or one after
// the session's result (the plane reports a binding before the result), changes nothing.
func (c *Call) pushBound(card Card) {
	if card != CallerCardPush && card != CalleeCardPush {
		return
	}
	switch c.push[card] {
	case PushOffered:
		if c.open[card] {
			c.push[card] = PushBound
		}
	case PushClosed:
		c.do(Action{Kind: ActCount, Counter: CountLateBind})
		c.do(Action{Kind: ActRefuseBind, Card: card})
	}
}

// pushDone: card's push session reported its one result. A terminal that fetched its page takes
// the pushes (learned, claims 1, 4); the callee card's end, delivered or not, leaves nothing for
// Herald's early dialog to do. A failure by the terminal or the network is counted; an abort is
// Herald's own close. Only the first result of a session counts.
func (c *Call) pushDone(ev Event) {
	card := ev.Card
	if card != CallerCardPush && card != CalleeCardPush {
		return
	}
	switch c.push[card] {
	case PushOffered, PushBound, PushClosed:
	default:
		return // no session, or its result is in already
	}
	switch {
	case ev.Delivered:
		c.push[card] = PushDelivered
		if card == CallerCardPush {
			c.learn(Callee, true, "fetched the caller card")
		} else {
			c.learn(Caller, true, "fetched the callee card")
		}
	case ev.Failed:
		c.push[card] = PushFailed
		c.do(Action{Kind: ActCount, Counter: CountPushFailed})
	default:
		c.push[card] = PushFailed
	}
	if card == CalleeCardPush && c.early.State() == Pushing {
		c.early.to(Pushed)
	}
}
