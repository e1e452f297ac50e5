package configs_test

import (
	"bytes"
	"io/fs"
	"regexp"
	"testing"

	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/content"
)

func TestDefaultEmbedded(t *testing.T) {
	if !bytes.Contains(configs.Default, []byte("next_hop:")) {
		t.Errorf("Default does not look like herald.yaml: %.80q", configs.Default)
	}
	if _, err := fs.Stat(configs.Seed, "profiles.yaml"); err != nil {
		t.Errorf("Seed is not rooted at seed/: %v", err)
	}
}

// external matches anything that would make a terminal fetch from the network while rendering.
var external = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?\s*(https?:)?//|@import|<script[^>]*\bsrc=|<link[^>]*stylesheet|<iframe`)

// TestSeedPages checks every seed page: accepted by content.Prepare with nothing removed,
// self-contained, mobile-ready.
func TestSeedPages(t *testing.T) {
	pages, err := fs.Glob(configs.Seed, "pages/*.html")
	if err != nil || len(pages) < 5 {
		t.Fatalf("seed pages: %v %v", pages, err)
	}
	for _, name := range pages {
		t.Run(name, func(t *testing.T) {
			body, err := fs.ReadFile(configs.Seed, name)
			if err != nil {
				t.Fatal(err)
			}
			// Shipped pages are what the sanitiser keeps whole: nothing removed by the default policy.
			if _, rep, err := content.Prepare("card.html", body, content.DefaultPolicy()); err != nil || !rep.Clean() {
				t.Errorf("Prepare: %v, removed %+v", err, rep.Removed)
			}
			if m := external.Find(body); m != nil {
				t.Errorf("page fetches from the network: %q", m)
			}
			for _, must := range []string{`<meta charset="utf-8">`, `name="viewport"`, "<style>", "<title>"} {
				if !bytes.Contains(body, []byte(must)) {
					t.Errorf("page lacks %s", must)
				}
			}
		})
	}
}

func TestExternalPattern(t *testing.T) {
	for s, want := range map[string]bool{
		`<img src="https://x.example/a.png">`:        true,
		`<a href='//cdn.example/x'>`:                 true,
		`background: url( "http://x.example/b.jpg")`: true,
		`@import "fonts.css";`:                       true,
		`<script defer src="app.js">`:                true,
		`<link rel="stylesheet" href="a.css">`:       true,
		`<a href="#top">top</a>`:                     false,
		`<p>see alice.lefevre.design</p>`:            false,
		`<svg viewBox="0 0 10 10"><path d="M0 0"/>`:  false,
	} {
		if got := external.MatchString(s); got != want {
			t.Errorf("external.MatchString(%q) = %v, want %v", s, got, want)
		}
	}
}
