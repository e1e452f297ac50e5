package configs

import (
	"embed"
	"io/fs"
)

//go:embed clips/ringback-8k.wav clips/ringback.awb clips/ringback.h264
var clips embed.FS

// Clips holds the sample ringback clips, rooted at clips/: ringback-8k.wav (G.711 source),
// ringback.awb (AMR-WB storage format) and ringback.h264 (Annex-B, 15 fps). See clips/README.md.
var Clips fs.FS = mustSub(clips, "clips")
