package configs_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitVerifies runs systemd-analyze verify on herald.service. systemd-analyze exits 0 on most
// mistakes (an unknown key, a bad Type=) and only prints them, so any output fails the test. The
// unit names /usr/bin/herald, which verify requires to be an executable: the copy checked names
// this test binary in its place. It skips without systemd-analyze (Debian's systemd package)
// unless HERALD_REQUIRE_PEERS=1.
func TestUnitVerifies(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
			t.Fatal("systemd-analyze not installed (HERALD_REQUIRE_PEERS=1)")
		}
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile("herald.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nType=notify\n", "\nNotifyAccess=main\n", "\nWatchdogSec=", "\nExecReload=",
		"\nExecStart=/usr/bin/herald serve -c /etc/herald/herald.yaml\n"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("herald.service lacks %q", strings.TrimSpace(want))
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "herald.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/bin/herald"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", path).CombinedOutput() //nolint:gosec // the test's own file
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
