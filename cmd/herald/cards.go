package main

import (
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/media"
)

// cardPolicy is the sanitising policy of uploaded cards from config (cards.*).
func cardPolicy(c config.CardOptions) content.Policy {
	return content.Policy{MaxBytes: c.MaxBytes, Styles: c.Styles, Images: c.Images, SVG: c.SVG,
		LinkSchemes: append([]string(nil), c.LinkSchemes...)}
}

// clipLimits bounds uploaded ringback clips from config (clips.*); video is packetised like the
// built-in clip (15 fps, 1200-byte MTU).
func clipLimits(c config.ClipOptions) media.ClipLimits {
	return media.ClipLimits{MaxBytes: c.MaxBytes, MaxDuration: c.MaxDuration.D(), FPS: 15, MTU: 1200}
}
