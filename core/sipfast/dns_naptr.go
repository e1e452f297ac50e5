package sipfast

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// dns_naptr.go: the transport a domain names for a sip: or sips: URI without transport or port
// (RFC 3263 §4.1): its NAPTR records (RFC 3403), else SRV per transport, else UDP.

// naptrTransport is the transport a SIP NAPTR record's service names (RFC 3263 §4.1): tcp false
// for SIP+D2U (UDP), true for SIP+D2T; ok false for a service Herald does not take (SIPS+D2T: TLS
// for a sip: URI, D2S, another protocol) or a record without the "s" flag (RFC 3403: its
// replacement is not an SRV name).
func naptrTransport(r NAPTR) (tcp, ok bool) {
	if !strings.EqualFold(r.Flags, "s") || r.Replacement == "" || r.Replacement == "." {
		return false, false
	}
	switch {
	case strings.EqualFold(r.Service, "SIP+D2U"):
		return false, true
	case strings.EqualFold(r.Service, "SIP+D2T"):
		return true, true
	}
	return false, false
}

// naptrTLS takes the NAPTR records of a sips: URI: SIPS+D2T alone (RFC 3263 §4.1), flag "s".
func naptrTLS(r NAPTR) (tcp, ok bool) {
	ok = strings.EqualFold(r.Flags, "s") && r.Replacement != "" && r.Replacement != "." && strings.EqualFold(r.Service, "SIPS+D2T")
	return ok, ok
}

// naptrTargets is the answer of host's first NAPTR record that take accepts and whose
// replacement's SRV records give a target, records tried lowest order then preference first
// (RFC 3403 §4.1, RFC 3263 §4.1); a.naptr is false when none does, with the last error met. The
// records take refuses are dropped before the bound (dnsMaxTarget), so a domain's records for
// other services (ENUM, another protocol) cannot hide its SIP ones.
func (c *hostCache) naptrTargets(ctx context.Context, host string, take func(NAPTR) (tcp, ok bool)) (a dnsAnswer, last error) {
	if c.naptr == nil {
		return dnsAnswer{}, nil
	}
	// Bounded apart: a server that drops NAPTR questions must leave the SRV and A/AAAA lookups of
	// the same fill (dnsTimeout) their time.
	nctx, cancel := context.WithTimeout(ctx, dnsNAPTRTimeout)
	recs, _ := c.naptr(nctx, host)
	cancel()
	recs = slices.DeleteFunc(recs, func(r NAPTR) bool { _, ok := take(r); return !ok })
	slices.SortStableFunc(recs, func(a, b NAPTR) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.Preference, b.Preference))
	})
	for _, r := range recs[:min(len(recs), dnsMaxTarget)] { // a hostile answer's thousand records: 16 followed
		tcp, _ := take(r)
		a, found, err := c.srvTargets(ctx, "", "", r.Replacement)
		if found && err == nil {
			a.tcp, a.naptr = tcp, true
			return a, nil
		}
		last = cmp.Or(err, last)
	}
	return dnsAnswer{}, last
}

// queryAuto chooses the transport toward host as RFC 3263 §4.1 does for a sip: URI naming none
// (UDP or TCP; TLS is not chosen for a sip: URI) and resolves it: the NAPTR records for SIP+D2U
// and SIP+D2T (naptrTargets); without any that give a target, _sip._udp SRV, then _sip._tcp;
// without SRV records for either, UDP to host's A/AAAA at 5060. A domain with SRV records none of
// which gives a target (RFC 2782's "." alone: the service is decidedly not there) gets no A/AAAA
// fallback (§4.2: that is for a domain without SRV records).
func (c *hostCache) queryAuto(ctx context.Context, host string) (dnsAnswer, error) {
	a, last := c.naptrTargets(ctx, host, naptrTransport)
	if a.naptr {
		return a, nil
	}
	anySRV := false
	for _, k := range [...]dnsKind{dnsSIPUDP, dnsSIPTCP} {
		service, proto, _ := k.srv()
		a, found, err := c.srvTargets(ctx, service, proto, host)
		if found && err == nil {
			a.tcp = k == dnsSIPTCP
			return a, nil
		}
		anySRV = anySRV || found
		last = cmp.Or(err, last)
	}
	if anySRV {
		return dnsAnswer{}, last
	}
	a, err := c.hostTargets(ctx, host, 5060)
	if err != nil && last != nil {
		err = fmt.Errorf("%w (and %v)", err, last)
	}
	return a, err
}
