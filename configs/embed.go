// Package configs embeds Herald's default configuration and seed data.
//
// Default is configs/herald.yaml: everything on 127.0.0.1, ready for a laptop demo. Seed is the
// seed/ directory (profiles.yaml and pages/), the subscribers a fresh data directory starts with.
// Both are read-only: never modify Default's bytes.
//
// examples/ holds an annotated production configuration, herald.service a hardened systemd unit and
// kamailio/ the Kamailio dispatcher configuration for a fleet of nodes; they are documentation and
// are not embedded.
package configs

import (
	"embed"
	"io/fs"
)

// Default is the embedded default configuration file, herald.yaml.
//
//go:embed herald.yaml
var Default []byte

//go:embed seed
var seed embed.FS

// Seed is the embedded seed directory, rooted at seed/ (so "profiles.yaml", "pages/alice-card.html").
var Seed fs.FS = mustSub(seed, "seed")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic("configs: " + err.Error()) // dir is a constant embedded above; cannot fail
	}
	return sub
}
