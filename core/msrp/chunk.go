package msrp

// DefaultChunkSize is the chunk size Herald uses: RFC 4975 §7.1 requires chunks
// larger than 2048 octets to be interruptible, so 2048 avoids that machinery.
const DefaultChunkSize = 2048

// Chunker splits a body of Total bytes into chunks (RFC 4975 §5.1, §7.1.1).
// The zero value is not useful; use [NewChunker].
type Chunker struct {
	total int64
	max   int64
	next  int64 // 0-based offset of the next chunk
	done  bool
}

// NewChunker returns a Chunker over total bytes with at most max body bytes per
// chunk (max <= 0 means 2048). A negative total is treated as 0.
func NewChunker(total int64, max int) Chunker {
	if max <= 0 {
		max = DefaultChunkSize
	}
	if total < 0 {
		total = 0
	}
	return Chunker{total: total, max: int64(max)}
}

// Next returns the Byte-Range of the next chunk (1-based, inclusive) and whether
// it is the last one; ok is false once every chunk was returned. A 0-byte body
// yields one chunk 1-0/0.
func (c *Chunker) Next() (br ByteRange, last bool, ok bool) {
	if c.done {
		return ByteRange{}, false, false
	}
	n := c.total - c.next
	if n > c.max {
		n = c.max
	}
	br = ByteRange{Start: c.next + 1, End: c.next + n, Total: c.total}
	c.next += n
	if c.next >= c.total {
		c.done = true
		last = true
	}
	return br, last, true
}

// Len returns the number of body bytes in br (0 if End is '*').
func (br ByteRange) Len() int64 {
	if br.End < 0 {
		return 0
	}
	return br.End - br.Start + 1
}
