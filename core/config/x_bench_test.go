package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/herald-ims/herald/configs"
)

func BenchmarkParse(b *testing.B) {
	prod, err := os.ReadFile(filepath.Join("..", "..", "configs", "examples", "herald-prod.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		data []byte
	}{{"file=default", configs.Default}, {"file=prod", prod}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if _, err := Parse("b.yaml", bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
