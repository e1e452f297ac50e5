package sipfast

// verdict.go: what the engine did with each datagram it was offered, as an explicit verdict
// with one reason from a bounded set, counted per reason (Stats.Verdicts, and the metric
// herald_sip_fast_datagrams_total{verdict,reason}).

// Verdict is where a datagram went.
type Verdict uint8

const (
	// VerdictFast: the fast path handled it (forwarded, relayed, answered or absorbed).
	VerdictFast Verdict = iota
	// VerdictGeneral: handed to the general path (sipgo), which parses it again.
	VerdictGeneral
	// VerdictDrop: discarded, as the general path would have (nothing sent).
	VerdictDrop
)

func (v Verdict) String() string {
	switch v {
	case VerdictFast:
		return "fast"
	case VerdictGeneral:
		return "general"
	}
	return "drop"
}

// Reason is why a datagram got its verdict.
type Reason uint8

// Reasons. Each belongs to one verdict (Reason.Verdict).
const (
	// fast
	ReasonForwarded Reason = iota // a request forwarded on a new fast transaction, or an ACK for a 2xx statelessly
	ReasonResponse                // a response to a fast transaction, relayed or acted on
	ReasonAnswered                // Herald answered it itself (400, 482, 503, the CANCEL's 200 and 487)
	ReasonAbsorbed                // a retransmission (or the ACK for Herald's own final) answered from state
	ReasonStray2xx                // a 2xx for a fast branch without a transaction, relayed statelessly (RFC 6026)
	ReasonFault                   // handling it panicked: counted (Stats.Panics), 500 to a request other than ACK
	ReasonOwn                     // a request on Herald's own early dialog (a PRACK), handed to its call (own.go)
	// drop
	ReasonStray    // a non-2xx response for a fast branch without a transaction
	ReasonHopLimit // an ACK for a fast 2xx with Max-Forwards 1 or less
	// general
	ReasonUnscanned     // the scanner refused it (malformed, or beyond the fast path's subset)
	ReasonUnreadable    // a response for a fast branch that neither parser could read
	ReasonSipgoBranch   // a response to one of sipgo's client transactions
	ReasonMethod        // a re-INVITE (the scanner reads INVITE, ACK, CANCEL, BYE and INFO only)
	ReasonOutOfDialog   // BYE or INFO without a To tag
	ReasonMaxForwards   // Max-Forwards 1 or less: the general path answers 483
	ReasonProxyRequire  // Proxy-Require: the general path answers 420
	ReasonUntrusted     // the peer is not trusted: the general path answers 403
	ReasonRoute         // the next hop is not an IP literal over the request's transport (TLS, DNS, strict routing, ...)
	ReasonNotPlain      // call.Decide's plan has a card or a ringback
	ReasonAdmission     // admission: the Call-ID is the general path's, or max_calls (482/503 there)
	ReasonSize          // too big for UDP once forwarded (RFC 3261 §18.1.1: TCP)
	ReasonGeneralCall   // a BYE or INFO of a call the general path carries
	ReasonNoTransaction // an ACK or CANCEL matching no fast transaction (sipgo's may wait for it)
	ReasonTransport     // the top Via names another transport than the request came over
	ReasonNoConnection  // over TCP, to a next hop Herald has no connection to yet (the general path opens it)
	numReasons
)

var reasonInfo = [numReasons]struct {
	v    Verdict
	name string
}{
	ReasonForwarded: {VerdictFast, "forwarded"}, ReasonResponse: {VerdictFast, "response"},
	ReasonAnswered: {VerdictFast, "answered"}, ReasonAbsorbed: {VerdictFast, "absorbed"},
	ReasonStray2xx: {VerdictFast, "stray_2xx"}, ReasonFault: {VerdictFast, "fault"},
	ReasonOwn:   {VerdictFast, "own"},
	ReasonStray: {VerdictDrop, "stray"}, ReasonHopLimit: {VerdictDrop, "hop_limit"},
	ReasonUnscanned: {VerdictGeneral, "unscanned"}, ReasonUnreadable: {VerdictGeneral, "unreadable"},
	ReasonSipgoBranch: {VerdictGeneral, "sipgo_branch"}, ReasonMethod: {VerdictGeneral, "method"},
	ReasonOutOfDialog: {VerdictGeneral, "out_of_dialog"}, ReasonMaxForwards: {VerdictGeneral, "max_forwards"},
	ReasonProxyRequire: {VerdictGeneral, "proxy_require"}, ReasonUntrusted: {VerdictGeneral, "untrusted"},
	ReasonRoute: {VerdictGeneral, "route"}, ReasonNotPlain: {VerdictGeneral, "not_plain"},
	ReasonAdmission: {VerdictGeneral, "admission"}, ReasonSize: {VerdictGeneral, "size"},
	ReasonGeneralCall: {VerdictGeneral, "general_call"}, ReasonNoTransaction: {VerdictGeneral, "no_transaction"},
	ReasonTransport: {VerdictGeneral, "transport"}, ReasonNoConnection: {VerdictGeneral, "no_connection"},
}

// Verdict is the verdict r belongs to.
func (r Reason) Verdict() Verdict { return reasonInfo[r].v }

func (r Reason) String() string {
	if r < numReasons {
		return reasonInfo[r].name
	}
	return "reason?"
}

// verdictOf counts r and reports whether the fast path kept the datagram (fast or drop).
func (f *Engine) verdictOf(r Reason) bool {
	f.st.Verdicts[r].Add(1)
	return r.Verdict() != VerdictGeneral
}

// VerdictSnapshot is Stats.Verdicts by reason (one field per Reason, in its order).
type VerdictSnapshot struct {
	Forwarded     uint64 `json:"forwarded" metric:"herald_sip_fast_path_datagrams_total{verdict=fast,reason=forwarded},counter" help:"Datagrams offered to the fast path, by verdict (fast, drop, general) and reason."`
	Response      uint64 `json:"response" metric:"herald_sip_fast_path_datagrams_total{verdict=fast,reason=response},counter"`
	Answered      uint64 `json:"answered" metric:"herald_sip_fast_path_datagrams_total{verdict=fast,reason=answered},counter"`
	Absorbed      uint64 `json:"absorbed" metric:"herald_sip_fast_path_datagrams_total{verdict=fast,reason=absorbed},counter"`
	Stray2xx      uint64 `json:"stray_2xx" metric:"herald_sip_fast_path_datagrams_total{verdict=fast,reason=stray_2xx},counter"`
	Fault         uint64 `json:"fault" metric:"herald_sip_fast_path_datagrams_total{verdict=fast,reason=fault},counter"`
	Own           uint64 `json:"own" metric:"herald_sip_fast_path_datagrams_total{verdict=fast,reason=own},counter"`
	Stray         uint64 `json:"stray" metric:"herald_sip_fast_path_datagrams_total{verdict=drop,reason=stray},counter"`
	HopLimit      uint64 `json:"hop_limit" metric:"herald_sip_fast_path_datagrams_total{verdict=drop,reason=hop_limit},counter"`
	Unscanned     uint64 `json:"unscanned" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=unscanned},counter"`
	Unreadable    uint64 `json:"unreadable" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=unreadable},counter"`
	SipgoBranch   uint64 `json:"sipgo_branch" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=sipgo_branch},counter"`
	Method        uint64 `json:"method" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=method},counter"`
	OutOfDialog   uint64 `json:"out_of_dialog" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=out_of_dialog},counter"`
	MaxForwards   uint64 `json:"max_forwards" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=max_forwards},counter"`
	ProxyRequire  uint64 `json:"proxy_require" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=proxy_require},counter"`
	Untrusted     uint64 `json:"untrusted" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=untrusted},counter"`
	Route         uint64 `json:"route" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=route},counter"`
	NotPlain      uint64 `json:"not_plain" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=not_plain},counter"`
	Admission     uint64 `json:"admission" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=admission},counter"`
	Size          uint64 `json:"size" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=size},counter"`
	GeneralCall   uint64 `json:"general_call" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=general_call},counter"`
	NoTransaction uint64 `json:"no_transaction" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=no_transaction},counter"`
	Transport     uint64 `json:"transport" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=transport},counter"`
	NoConnection  uint64 `json:"no_connection" metric:"herald_sip_fast_path_datagrams_total{verdict=general,reason=no_connection},counter"`
}

func (f *Stats) verdictSnapshot() VerdictSnapshot {
	v := &f.Verdicts
	return VerdictSnapshot{
		Forwarded:     v[ReasonForwarded].Load(),
		Response:      v[ReasonResponse].Load(),
		Answered:      v[ReasonAnswered].Load(),
		Absorbed:      v[ReasonAbsorbed].Load(),
		Stray2xx:      v[ReasonStray2xx].Load(),
		Fault:         v[ReasonFault].Load(),
		Own:           v[ReasonOwn].Load(),
		Stray:         v[ReasonStray].Load(),
		HopLimit:      v[ReasonHopLimit].Load(),
		Unscanned:     v[ReasonUnscanned].Load(),
		Unreadable:    v[ReasonUnreadable].Load(),
		SipgoBranch:   v[ReasonSipgoBranch].Load(),
		Method:        v[ReasonMethod].Load(),
		OutOfDialog:   v[ReasonOutOfDialog].Load(),
		MaxForwards:   v[ReasonMaxForwards].Load(),
		ProxyRequire:  v[ReasonProxyRequire].Load(),
		Untrusted:     v[ReasonUntrusted].Load(),
		Route:         v[ReasonRoute].Load(),
		NotPlain:      v[ReasonNotPlain].Load(),
		Admission:     v[ReasonAdmission].Load(),
		Size:          v[ReasonSize].Load(),
		GeneralCall:   v[ReasonGeneralCall].Load(),
		NoTransaction: v[ReasonNoTransaction].Load(),
		Transport:     v[ReasonTransport].Load(),
		NoConnection:  v[ReasonNoConnection].Load(),
	}
}

// Snapshot is the engine's counters as the proxy's /varz and /metrics show them (core/stats reads
// the tags).
type Snapshot struct {
	Calls           uint64 `json:"calls" metric:"herald_sip_fast_path_calls_total,counter" help:"Plain calls (UDP or TCP) proxied on the fast path."`
	Fallbacks       uint64 `json:"fallbacks" metric:"herald_sip_fast_path_fallbacks_total,counter" help:"New INVITEs the fast path left to the general path."`
	InDialog        uint64 `json:"in_dialog" metric:"herald_sip_fast_path_in_dialog_total,counter" help:"ACKs for 2xx, BYEs and INFOs forwarded on the fast path."`
	Retransmissions uint64 `json:"retransmissions" metric:"herald_sip_fast_path_retransmissions_total,counter" help:"Requests and responses the fast path sent again (RFC 3261 Timers A, E, G)."`
	Absorbed        uint64 `json:"absorbed" metric:"herald_sip_fast_path_absorbed_total,counter" help:"Retransmissions the fast path answered without forwarding."`
	Timeouts        uint64 `json:"timeouts" metric:"herald_sip_fast_path_timeouts_total,counter" help:"Fast-path transactions ended by Timer B, F or C."`
	Stray           uint64 `json:"stray" metric:"herald_sip_fast_path_stray_total,counter" help:"Responses to a fast-path branch with no transaction."`
	SendErrors      uint64 `json:"send_errors" metric:"herald_sip_fast_path_send_errors_total,counter" help:"Messages the fast path could not send (a UDP socket refused it, or no TCP connection to the peer was open)."`
	Unreadable      uint64 `json:"unreadable" metric:"herald_sip_fast_path_unreadable_total,counter" help:"Responses to a fast-path branch that could not be read."`
	DNSLookups      uint64 `json:"dns_lookups" metric:"herald_sip_fast_path_dns_lookups_total,counter" help:"Lookups of Route, next-hop and Via names (RFC 3263), for both paths: one per name per 30 s."`
	DNSSRV          uint64 `json:"dns_srv" metric:"herald_sip_fast_path_dns_srv_total,counter" help:"Name lookups answered through SRV records (a URI without a port)."`
	DNSNAPTR        uint64 `json:"dns_naptr" metric:"herald_sip_fast_path_dns_naptr_total,counter" help:"Name lookups whose transport and targets NAPTR records chose (a URI naming neither transport nor port, RFC 3263 4.1)."`
	DNSFailures     uint64 `json:"dns_failures" metric:"herald_sip_fast_path_dns_failures_total,counter" help:"Background name lookups that failed."`
	DNSFull         uint64 `json:"dns_full" metric:"herald_sip_fast_path_dns_full_total,counter" help:"Requests sent the general way because the name cache was full."`
	DNSDown         uint64 `json:"dns_down" metric:"herald_sip_fast_path_dns_down_total,counter" help:"Destinations marked down for 30 s after a request to them went unanswered or was refused (RFC 3263 §4.3): a name's next target is used meanwhile."`
	DNSFailovers    uint64 `json:"dns_failovers" metric:"herald_sip_fast_path_dns_failovers_total,counter" help:"Requests sent again at once to their name's next target after theirs refused them (RFC 3263 §4.3)."`
	DNSRetargets    uint64 `json:"dns_retargets" metric:"herald_sip_fast_path_dns_retargets_total,counter" help:"INVITEs sent on, with a new branch, to their name's next target after theirs had not answered by the third retransmission (RFC 3263 4.3)."`
	DNSDownFull     uint64 `json:"dns_down_full" metric:"herald_sip_fast_path_dns_down_full_total,counter" help:"Destinations not marked down because 1,024 already were."`
	Overload        uint64 `json:"overload" metric:"herald_sip_fast_path_overload_total,counter" help:"Requests answered 503: the fast path held its limit of transactions."`
	Originated      uint64 `json:"originated" metric:"herald_sip_fast_path_originated_total,counter" help:"Requests Herald originated on the fast path (the UPDATE of its own early dialog)."`
	HostInvites     uint64 `json:"host_invites" metric:"herald_sip_fast_path_host_invites_total,counter" help:"INVITEs the general path forwarded over UDP on the fast path's client transactions (calls with cards, and plain calls the fast path left to it)."`
	OwnUnanswered   uint64 `json:"own_unanswered" metric:"herald_sip_fast_path_own_unanswered_total,counter" help:"Requests on Herald's own early dialog its call did not answer within 64*T1 (answered 500)."`
	Reconnects      uint64 `json:"tcp_reconnects" metric:"herald_sip_fast_path_tcp_reconnects_total{result=sent},counter" help:"Messages sent over TCP on a connection the fast path opened for them, by result: responses whose request's connection had closed (RFC 3261 18.2.2, to the Via's address) and INVITEs sent on to a name's next target (RFC 3263 4.3)."`
	ReconnectFailed uint64 `json:"tcp_reconnect_failed" metric:"herald_sip_fast_path_tcp_reconnects_total{result=failed},counter"`
	Transactions    int    `json:"transactions" metric:"herald_sip_fast_path_transactions,gauge" help:"Transactions the fast path holds."`
	// Verdicts: every datagram offered to the fast path, by verdict and reason (verdict.go).
	Verdicts VerdictSnapshot `json:"verdicts"`
}

// Snapshot reads the counters; transactions is Engine.Transactions (0 without an engine).
func (f *Stats) Snapshot(transactions int) Snapshot {
	return Snapshot{
		Calls: f.Calls.Load(), Fallbacks: f.Fallbacks.Load(), InDialog: f.InDialog.Load(),
		Retransmissions: f.Retransmissions.Load(), Absorbed: f.Absorbed.Load(), Timeouts: f.Timeouts.Load(),
		Stray: f.Stray.Load(), SendErrors: f.SendErrors.Load(), Unreadable: f.Unreadable.Load(),
		DNSLookups: f.DNSLookups.Load(), DNSSRV: f.DNSSRV.Load(), DNSNAPTR: f.DNSNAPTR.Load(), DNSFailures: f.DNSFailures.Load(), DNSFull: f.DNSFull.Load(), DNSDown: f.DNSDown.Load(), DNSDownFull: f.DNSDownFull.Load(), DNSFailovers: f.DNSFailovers.Load(), DNSRetargets: f.DNSRetargets.Load(),
		Overload: f.Overload.Load(), OwnUnanswered: f.OwnUnanswered.Load(), Reconnects: f.Reconnects.Load(), ReconnectFailed: f.ReconnectFailed.Load(), Originated: f.Originated.Load(), HostInvites: f.HostInvites.Load(), Transactions: transactions, Verdicts: f.verdictSnapshot(),
	}
}
