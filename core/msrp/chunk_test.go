package msrp

import (
	"strings"
	"testing"
)

func TestChunker(t *testing.T) {
	tests := map[string]struct {
		total int64
		max   int
		want  []string // Byte-Range values; the last one is the last chunk
	}{
		"18432-in-2048": {18432, 2048, []string{
			"1-2048/18432", "2049-4096/18432", "4097-6144/18432", "6145-8192/18432", "8193-10240/18432",
			"10241-12288/18432", "12289-14336/18432", "14337-16384/18432", "16385-18432/18432",
		}},
		"default-max":       {4097, 0, []string{"1-2048/4097", "2049-4096/4097", "4097-4097/4097"}},
		"zero-bytes":        {0, 2048, []string{"1-0/0"}},
		"negative-is-zero":  {-5, 2048, []string{"1-0/0"}},
		"exact-multiple":    {4096, 1024, []string{"1-1024/4096", "1025-2048/4096", "2049-3072/4096", "3073-4096/4096"}},
		"exactly-one-chunk": {2048, 2048, []string{"1-2048/2048"}},
		"one-byte":          {1, 2048, []string{"1-1/1"}},
		"max-one":           {3, 1, []string{"1-1/3", "2-2/3", "3-3/3"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := NewChunker(tc.total, tc.max)
			var got []string
			var sum int64
			for i := 0; ; i++ {
				br, last, ok := c.Next()
				if !ok {
					break
				}
				if i > 1000 {
					t.Fatal("chunker does not end")
				}
				got = append(got, string(AppendByteRange(nil, br)))
				sum += br.Len()
				if last != (len(got) == len(tc.want)) {
					t.Errorf("chunk %d: last = %v", i, last)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("chunks\n%v\nwant\n%v", got, tc.want)
			}
			if max(tc.total, 0) != sum {
				t.Errorf("chunk lengths sum to %d, want %d", sum, tc.total)
			}
			if _, _, ok := c.Next(); ok {
				t.Error("Next after the end returned ok")
			}
		})
	}
}
