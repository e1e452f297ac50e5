package sipmsg

import "github.com/emiago/sipgo/sip"

// byteCounter is an io.StringWriter that only counts what is written.
type byteCounter int

func (c *byteCounter) WriteString(s string) (int, error) {
	*c += byteCounter(len(s))
	return len(s), nil
}

// RequestSize is len(r.String()) without building the string: the start line and the headers are
// serialised into a counter and the body is only measured. core/signal's pickTransport runs it on every
// request Herald sends over UDP, where r.String() cost a few KB of garbage per request.
func RequestSize(r *sip.Request) int {
	var c byteCounter
	c += byteCounter(len(r.Method) + 1)
	r.Recipient.StringWrite(&c)
	c += byteCounter(1 + len(r.SipVersion) + 2)
	r.MessageData.StringWrite(&c) // the headers
	c += 2
	return int(c) + len(r.Body())
}

// Unsent takes off a request Herald forwards what a failed attempt to send it added (sipgo's
// ClientRequestAddVia and ClientRequestDecreaseMaxForward): Herald's Via and one Max-Forwards
// decrement, so that it can be sent again as if for the first time.
func Unsent(fwd *sip.Request) {
	fwd.RemoveHeader("Via")
	if mf := fwd.MaxForwards(); mf != nil {
		*mf++
	}
}
