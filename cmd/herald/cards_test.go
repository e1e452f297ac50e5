package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
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

// TestAPIUsesCardsConfig: a running instance sanitises uploads with cards.* from its config (here
// tel: links only, 2 KiB at most), not with the package default, and answers what it removed.
func TestAPIUsesCardsConfig(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	o, err := demoConfig("127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	o.HTTP.API = config.APIOptions{ReadWriteTokens: []string{apiTestToken}}
	o.Cards.MaxBytes, o.Cards.LinkSchemes = 2048, []string{"tel"}
	in, err := newInstance(o, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.start(t.Context()); err != nil {
		in.stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { in.stop(context.Background()) })
	card := "http://" + in.web.AdminAddr() + "/v1/subscribers/sip:alice@home1.net/cards/caller"
	auth := "Authorization: Bearer " + apiTestToken
	code, hdr, _ := apiDo(t, "GET", card, nil, auth)
	if code != 200 {
		t.Fatalf("GET: %d", code)
	}
	html := `<!DOCTYPE html><p><a href="https://x.example/">web</a> <a href="tel:+12125551111">call</a></p>`
	code, hdr, body := apiDo(t, "PUT", card, []byte(html), auth, "Content-Type: text/html", "If-Match: "+hdr.Get("ETag"))
	var up struct {
		Removed []content.Removal `json:"removed"`
	}
	if err := json.Unmarshal(body, &up); code != 200 || err != nil {
		t.Fatalf("PUT: %d %s", code, body)
	}
	want := []content.Removal{{Kind: content.KindURL, Name: "href", Element: "a", Detail: "https://x.example/", Count: 1, Line: 1}}
	if !reflect.DeepEqual(up.Removed, want) {
		t.Errorf("removed %+v, want %+v", up.Removed, want)
	}
	big := "<!DOCTYPE html><p>" + strings.Repeat("x", 2048) + "</p>"
	if code, _, body := apiDo(t, "PUT", card, []byte(big), auth, "Content-Type: text/html", "If-Match: "+hdr.Get("ETag")); code != 413 {
		t.Errorf("PUT of %d bytes over cards.max_bytes 2048: %d %s", len(big), code, body)
	}
}
