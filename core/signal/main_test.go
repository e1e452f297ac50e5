package signal

import (
	"log/slog"
	"testing"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
)

// TestMain checks that the whole package run leaves no goroutine behind; each real-socket test also
// checks it for itself once its Herald, terminals and MSRP plane are closed (rig.cleanup).
func TestMain(m *testing.M) {
	// sipgo logs benign connection ref-count noise through its package logger only.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	// IgnoreCurrent: gnet's package-level worker pool (ants) starts its goroutines at init.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection")) // see leakCheck
}
