package uesim

import (
	"io"
	"log/slog"
	"testing"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// A few sipgo code paths log through the package default logger only (e.g. "TCP ref went
	// negative" when a connection closes); keep test output clean.
	sip.SetDefaultLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	goleak.VerifyTestMain(m)
}
