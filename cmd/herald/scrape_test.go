package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const scrapeFile = "../../configs/monitoring/prometheus-scrape.yaml"

// TestScrapeExample: the Prometheus scrape example scrapes job "herald" (the job the alerts and the
// dashboard select) at /metrics with a bearer token read from a file (what http.admin_token_file
// asks for), and, with its file paths pointed at files that exist, passes `promtool check config`
// (rules included) when promtool is installed (required with HERALD_REQUIRE_PEERS=1).
func TestScrapeExample(t *testing.T) {
	b, err := os.ReadFile(scrapeFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			Authorization struct {
				Type            string `yaml:"type"`
				CredentialsFile string `yaml:"credentials_file"`
			} `yaml:"authorization"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.ScrapeConfigs) != 1 {
		t.Fatalf("%d scrape configs, want 1", len(cfg.ScrapeConfigs))
	}
	sc := cfg.ScrapeConfigs[0]
	if sc.JobName != "herald" || sc.MetricsPath != "/metrics" || sc.Authorization.Type != "Bearer" || sc.Authorization.CredentialsFile == "" {
		t.Fatalf("scrape config %+v: want job herald, /metrics, a Bearer credentials_file", sc)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
			t.Fatal("promtool not installed (Debian package prometheus; HERALD_REQUIRE_PEERS=1)")
		}
		t.Skip("promtool not installed: the scrape example checked for structure only")
	}
	dir := t.TempDir()
	for _, f := range []string{"herald-admin.token", "herald-admin-ca.crt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("placeholder\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "herald-alerts.yaml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(local, []byte(strings.ReplaceAll(string(b), "/etc/prometheus/", dir+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", local).CombinedOutput(); err != nil { //nolint:gosec // the repository's own file
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}
