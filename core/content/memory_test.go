package content

import (
	"runtime"
	"testing"
)

// TestNoEncoderLiveAfterNewPage: building pages leaves no compressor live once the collector ran
// (the pools empty after two cycles). A package-level zstd encoder at SpeedBestCompression kept
// about 50 MB of live heap in every process that had built one page (seen in a heap profile of
// Herald at 5,000 calls/s: a third of its live heap), multiplied by limits.gc_percent.
func TestNoEncoderLiveAfterNewPage(t *testing.T) {
	live := func() uint64 {
		runtime.GC()
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	body := bigHTML(64 << 10)
	before := live()
	var pages []*Page
	for range 4 {
		p, err := NewPage("big.html", body)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
	}
	after := live()
	runtime.KeepAlive(pages)
	const bound = 8 << 20 // the pages themselves are 4 × (64 KiB + two compressed copies)
	if after > before && after-before > bound {
		t.Fatalf("live heap grew by %d MB after building 4 pages (bound %d MB): a compressor stays live",
			(after-before)>>20, bound>>20)
	}
}
