package msrp

import (
	"bytes"
	"strconv"
	"testing"
)

// sendChunk builds one Herald SEND chunk frame with a body of size bytes.
func sendChunk(size int) []byte {
	body := bytes.Repeat([]byte("<p>caller card</p>\r\n"), size/20+1)[:size]
	br := ByteRange{1, int64(size), 18432}
	f := AppendSendChunkHead(nil, "dkei38sd", toPath, fromPath, "4564dpWd", br, "text/html;charset=utf-8", "render")
	f = append(f, body...)
	return AppendEndLine(f, "dkei38sd", FlagMore, true)
}

func BenchmarkParseSendChunk(b *testing.B) {
	for _, size := range []int{0, 2048, 16384} {
		frame := sendChunk(size)
		b.Run("body="+strconv.Itoa(size)+"b/reuse", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			var p Parser
			var m Message
			for b.Loop() {
				if _, err := p.Parse(frame, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("body="+strconv.Itoa(size)+"b/reads=4", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			var p Parser
			var m Message
			q := len(frame) / 4
			for b.Loop() {
				for _, k := range []int{q, 2 * q, 3 * q} {
					if _, err := p.Parse(frame[:k], &m); err != ErrIncomplete {
						b.Fatal(err)
					}
				}
				if _, err := p.Parse(frame, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("report/reuse", func(b *testing.B) {
		frame := []byte(rfcReport)
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		var p Parser
		var m Message
		for b.Loop() {
			if _, err := p.Parse(frame, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendSendChunkHead(b *testing.B) {
	b.ReportAllocs()
	dst := make([]byte, 0, 512)
	br := ByteRange{2049, 4096, 18432}
	for b.Loop() {
		dst = AppendSendChunkHead(dst[:0], "dkei38sd", toPath, fromPath, "4564dpWd", br, "text/html;charset=utf-8", "render")
	}
}

func BenchmarkSessionIDOf(b *testing.B) {
	b.ReportAllocs()
	path := []byte("msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp")
	for b.Loop() {
		if _, err := SessionIDOf(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTID compares one getrandom per transaction id (AppendTID) with the pooled IDSource.
func BenchmarkTID(b *testing.B) {
	b.Run("src=AppendTID", func(b *testing.B) {
		b.ReportAllocs()
		var buf [TIDLen]byte
		for b.Loop() {
			_ = AppendTID(buf[:0])
		}
	})
	b.Run("src=IDSource", func(b *testing.B) {
		b.ReportAllocs()
		var buf [TIDLen]byte
		var s IDSource
		for b.Loop() {
			_ = s.AppendTID(buf[:0])
		}
	})
}
