package main

import (
	"fmt"
	"io/fs"

	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/core/signal"
	"github.com/herald-ims/herald/netio/rtp"
)

// ringback adapts the RTP plane and the loaded clips to what core/signal needs.
type ringback struct {
	plane *rtp.Plane
	addr  string
	clips map[string]*media.Clip
}

func (r *ringback) Clip(name string) *media.Clip { return r.clips[name] }
func (r *ringback) Addr() string                 { return r.addr }

func (r *ringback) Allocate() (signal.RingStream, error) {
	st, err := r.plane.Allocate()
	if err != nil {
		return nil, err
	}
	return st, nil
}

// loadClips loads the clip "ringback" from the sample files: G.711 from the 8 kHz WAV, AMR-WB from the
// .awb storage file and H.264 from the Annex-B file (15 fps, packetised for a 1200-byte MTU). Every
// clip is decoded and framed once here and shared read-only by every stream.
func loadClips(fsys fs.FS) (map[string]*media.Clip, error) {
	c := &media.Clip{Name: "ringback"}
	steps := []struct {
		file string
		load func([]byte) error
	}{
		{"ringback-8k.wav", c.LoadWAV},
		{"ringback.awb", c.LoadAWB},
		{"ringback.h264", func(b []byte) error { return c.LoadH264(b, 15, 1200) }},
	}
	for _, s := range steps {
		b, err := fs.ReadFile(fsys, s.file)
		if err != nil {
			return nil, fmt.Errorf("herald: clip %s: %w", s.file, err)
		}
		if err := s.load(b); err != nil {
			return nil, fmt.Errorf("herald: clip %s: %w", s.file, err)
		}
	}
	return map[string]*media.Clip{c.Name: c}, nil
}
