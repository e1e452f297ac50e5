package main

import (
	"fmt"
	"io/fs"

	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/core/signal"
	"github.com/herald-ims/herald/core/store"
	"github.com/herald-ims/herald/netio/rtp"
)

// ringback adapts the RTP plane, the built-in clips and the stored ones to what core/signal needs.
type ringback struct {
	plane  *rtp.Plane
	addr   string
	clips  map[string]*media.Clip // built into the binary, by name ("ringback")
	stored *store.Live            // clip versions, by reference
}

// Clip resolves a profile's ringback: a built-in name first, else a stored clip reference. A name
// that resolves to nothing is counted (herald_store_clip_missing_total) and logged, rate-limited,
// by the store; the call then rings without a clip.
func (r *ringback) Clip(name string) *media.Clip {
	if c := r.clips[name]; c != nil {
		return c
	}
	if r.stored == nil {
		return nil
	}
	return r.stored.Clip(name)
}
func (r *ringback) Addr() string { return r.addr }

func (r *ringback) Allocate() (signal.RingStream, error) {
	st, err := r.plane.Allocate()
	if err != nil {
		return nil, err
	}
	return st, nil
}

// loadClips prepares the built-in clip "ringback" from the sample files with media.PrepareClip, the
// path an uploaded clip takes: G.711 from the 8 kHz WAV, AMR-WB from the .awb storage file and H.264
// from the Annex-B file (15 fps, packetised for a 1200-byte MTU). Every clip is decoded and framed
// once here and shared read-only by every stream.
func loadClips(fsys fs.FS) (map[string]*media.Clip, error) {
	var srcs []media.Source
	for _, s := range []struct{ file, kind string }{
		{"ringback-8k.wav", media.KindWAV},
		{"ringback.awb", media.KindAWB},
		{"ringback.h264", media.KindH264},
	} {
		b, err := fs.ReadFile(fsys, s.file)
		if err != nil {
			return nil, fmt.Errorf("herald: clip %s: %w", s.file, err)
		}
		srcs = append(srcs, media.Source{Kind: s.kind, Data: b})
	}
	c, err := media.PrepareClip("ringback", media.ClipLimits{FPS: 15, MTU: 1200}, srcs...)
	if err != nil {
		return nil, fmt.Errorf("herald: clip ringback: %w", err)
	}
	return map[string]*media.Clip{c.Name: c}, nil
}
