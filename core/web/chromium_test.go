package web

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestChromiumRendersPage loads a published page in headless Chromium (which sends
// "Accept-Encoding: gzip, deflate, br, zstd", so the zstd body is what it decodes) and checks the
// rendered DOM. It runs only with HERALD_CHROMIUM=1 and a chromium binary: .ci/run does not install
// chromium, so this test is opt-in and never fails for its absence.
func TestChromiumRendersPage(t *testing.T) {
	if os.Getenv("HERALD_CHROMIUM") != "1" {
		t.Skip("chromium test is opt-in: set HERALD_CHROMIUM=1 (needs chromium installed)")
	}
	bin := ""
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium not installed")
	}
	s, _ := testServer(t, Options{})
	const title = "Herald caller card ✓"
	url, _, err := s.Publish(testPage(t, title), "call-chromium")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--dump-dom", local(s, url))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if !strings.Contains(dom, "<title>"+title+"</title>") {
		t.Fatalf("DOM lacks the title; got %.300q", dom)
	}
	if !strings.Contains(dom, "Caller card line") {
		t.Fatalf("DOM lacks the body; got %.300q", dom)
	}
	if st := s.Stats(); st.Pages["zstd"]+st.Pages["gzip"] == 0 {
		t.Errorf("chromium got no compressed body: %v", st.Pages)
	}
}
