// Package callsip is the SIP side of one call with cards: the controller that turns what arrives
// for the call into its state machine's events (core/call) and performs the machine's actions in
// SIP, MSRP and RTP. The server (core/signal) admits and routes the caller's INVITE, then hands the
// call over (New, Run); the controller reaches the server only through Host (routing, transactions,
// the recovery net) and the settings, planes and counters of Env.
//
// Per call, the goroutine sipgo starts for the INVITE is the call's controller: it owns the call's
// state and is the only goroutine that changes it. What the call does next is decided by its state
// machine (core/call's Call: events in, actions out, no I/O); the controller only translates what
// arrives into events and performs the actions (callact.go), and it closes a push session only when
// the machine says so. Everything else reaches the controller through one inbox, which it reads
// with one receive per event (not a select over a channel per source): the forwarded INVITE's
// responses and its end (sipgo's ClientTx.SetPassUp and OnTerminate, a Herald patch), the caller's
// CANCEL (OnCancel), the machine's timers (each arm a generation; an earlier run's fire is dropped),
// other handlers (PRACK and UPDATE on Herald's own early dialog: Prack, Update from sipgo; PrackOn
// from the fast path's engine, which never waits) and helper goroutines (the UPDATE's client
// transaction on sipgo). The MSRP plane's reports (a terminal bound to a push session, the page's
// outcome: push.Session.Notify) come on a notes queue of their own that never blocks the plane's
// loop. None of them touches the controller's state. Over UDP the early dialog's PRACK and
// UPDATE transactions are the fast path's engine's (core/sipfast own.go): the call answers the
// PRACK through it (Answerer) and gets the UPDATE's answer from it (Host.OriginateOwn). So is the
// forwarded INVITE's client transaction when it goes over UDP to an address (Host.Invite returns the
// engine's, EngineInvite): its responses reach the inbox from the goroutine that read
// them, straight in when the inbox has room (tryPassUp), else in order through one goroutine that
// waits; its CANCEL is the engine's (inviteCanceler). The controller
// returns only after the INVITE has its final response, every push session of the call has ended
// and every helper goroutine has exited; the server's call table entry is removed last.
//
// The pushes go only to terminals known to take them (capability.go): ordinary phones fail a call
// whose INVITE carries an early-session part, and refuse an UPDATE offering m=message. Knowledge is
// provisioned (profile.Profile.PushCapable), learned (profile.CapCache) or, for the caller, said in
// its INVITE; every other terminal gets the card as a Call-Info link (RFC 3261 §20.9) only.
//
// What goes on the wire (the README's "Wire contract per claim" has it claim by claim):
//
//   - forwarded INVITE: a Call-Info link to the caller card; to a callee known to take it, also the
//     caller's SDP untouched as the session part of a multipart/mixed body, plus an
//     early-session;handling=optional SDP part with Herald's m=message push offer (claims 1, 3);
//   - 18x/2xx from the callee: relayed with any early-session part removed (RFC 3959);
//   - Herald's own early dialog with the caller (own To-tag): a reliable 183 (RFC 3262: Require: 100rel,
//     RSeq, retransmitted on T1 doubling until PRACK, abandoned at 64*T1), then an UPDATE (RFC 3311)
//     adding the callee card's m=message offer (claims 1, 4, 5, 7) to a caller known to take it; to
//     any other caller, and after a refused UPDATE, a 183 with a Call-Info link to the callee card;
//   - on the callee's 2xx: 199 on Herald's early dialog when the caller supports it (RFC 6228), push
//     sessions closed, 2xx relayed; ACK, BYE and other in-dialog requests are proxied by the server's
//     Route.
//
// A panic in the controller is recovered at its boundary (runSafe): the caller is answered 500 with
// Retry-After, the forwarded INVITE cancelled, and the fault counted through Host.Recovered.
package callsip
