package signal

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestSipgoClientTxSetPassUp pins the Herald patch that lets a call's controller take its forwarded
// INVITE's responses in its one inbox instead of a select over a channel per transaction
// (netio/sipgo/HERALD.md, ClientTx.SetPassUp): a response already waiting on Responses() when the
// hook is set goes to the hook, and so does every later one, in order; the channel gets none.
func TestSipgoClientTxSetPassUp(t *testing.T) {
	req := parseReq(t, retainInvite)
	tx := sip.NewClientTx("passup-client", req, &recConn{}, quietLog())
	if err := tx.Init(); err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	trying := sip.NewResponseFromRequest(req, 180, "Ringing", nil)
	waiting := make(chan struct{})
	go func() { // the FSM passes the 180 up and waits for the TU, which has not set its hook yet
		tx.Receive(trying)
		close(waiting)
	}()
	time.Sleep(20 * time.Millisecond)
	got := make(chan *sip.Response, 4)
	tx.SetPassUp(func(r *sip.Response) { got <- r })
	tx.SetPassUp(func(*sip.Response) { t.Error("a second SetPassUp replaced the first") })
	select {
	case <-waiting:
	case <-time.After(2 * time.Second):
		t.Fatal("the response waiting for the channel did not go to the hook set meanwhile")
	}
	tx.Receive(sip.NewResponseFromRequest(req, 183, "Session Progress", nil))
	tx.Receive(sip.NewResponseFromRequest(req, 200, "OK", nil))
	for _, want := range []int{180, 183, 200} {
		select {
		case r := <-got:
			if r.StatusCode != want {
				t.Fatalf("hook got %d, want %d (in order)", r.StatusCode, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("hook did not get the %d", want)
		}
	}
	select {
	case r := <-tx.Responses():
		t.Fatalf("the channel got %d with the hook set", r.StatusCode)
	default:
	}
}
