package main

import (
	"testing"

	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/content"
)

// TestCardPolicyFromDefaultConfig: the embedded default config gives exactly content.DefaultPolicy
// but for the size limit, and the clip limits its documented values.
func TestCardPolicyFromDefaultConfig(t *testing.T) {
	o, err := config.Parse("herald.yaml", configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	got, want := cardPolicy(o.Cards), content.DefaultPolicy()
	want.MaxBytes = config.DefaultCardMaxBytes
	if got.MaxBytes != want.MaxBytes || got.Styles != want.Styles || got.Images != want.Images || got.SVG != want.SVG ||
		len(got.LinkSchemes) != len(want.LinkSchemes) {
		t.Fatalf("cardPolicy = %+v, want %+v", got, want)
	}
	for i := range got.LinkSchemes {
		if got.LinkSchemes[i] != want.LinkSchemes[i] {
			t.Errorf("LinkSchemes = %v, want %v", got.LinkSchemes, want.LinkSchemes)
		}
	}
	if l := clipLimits(o.Clips); l.MaxBytes != config.DefaultClipMaxBytes || l.MaxDuration != config.DefaultClipMaxDur {
		t.Errorf("clipLimits = %+v", l)
	}
}
