package loadgen

import (
	"os"
	"testing"

	"log/slog"

	"github.com/emiago/sipgo/sip"
)

func TestMain(m *testing.M) {
	// sipgo's package logger reports benign connection ref-count noise; keep test output clean.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
