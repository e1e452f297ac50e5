package content

import (
	"errors"
	"fmt"
)

var (
	// ErrEmptyPage is returned for a page with no bytes.
	ErrEmptyPage = errors.New("content: empty page")
	// ErrPageTooLarge is returned for a page above the size limit (Policy.MaxBytes, MaxPageBytes).
	ErrPageTooLarge = errors.New("content: page too large")
	// ErrTooLarge is ErrPageTooLarge under the name the upload API uses.
	ErrTooLarge = ErrPageTooLarge
	// ErrNotUTF8 is returned when the page is not valid UTF-8; the *InputError says where.
	ErrNotUTF8 = errors.New("content: not utf-8")
	// ErrNotHTML is returned when the bytes are not an HTML document (no doctype, <html> or leading
	// comment in the first 512 bytes).
	ErrNotHTML = errors.New("content: not an utf-8 html document")
	// ErrMalformed is returned when the HTML is not well-formed (see Prepare); the *InputError gives
	// the line and column of the first problem.
	ErrMalformed = errors.New("content: malformed html")
	// ErrBadName is returned when the display name is unusable in an a=file-selector.
	ErrBadName = errors.New("content: bad page name")
	// ErrUnsafe is returned when the sanitised page still fails the final safety check. It means a
	// bug in the sanitiser, never bad input: the page is refused rather than pushed.
	ErrUnsafe = errors.New("content: sanitised page failed the safety check")
)

// InputError says what is wrong with an uploaded page and where. Err is one of the sentinels above
// (errors.Is works through it); Offset is the byte offset of the problem, Line and Col its 1-based
// position (Col counts characters), all zero when the problem has no position (a size limit).
type InputError struct {
	Err       error
	Offset    int
	Line, Col int
	Reason    string
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%v: %d:%d: %s", e.Err, e.Line, e.Col, e.Reason)
	}
	return fmt.Sprintf("%v: %s", e.Err, e.Reason)
}

// Unwrap returns the sentinel.
func (e *InputError) Unwrap() error { return e.Err }

// Code returns the stable machine-readable code of err, for API answers: "empty_page",
// "page_too_large", "not_utf8", "not_html", "malformed_html", "bad_name", "unsafe"; "" for nil and
// "internal" for anything else.
func Code(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

var codes = []struct {
	err  error
	code string
}{
	{ErrEmptyPage, "empty_page"},
	{ErrPageTooLarge, "page_too_large"},
	{ErrNotUTF8, "not_utf8"},
	{ErrNotHTML, "not_html"},
	{ErrMalformed, "malformed_html"},
	{ErrBadName, "bad_name"},
	{ErrUnsafe, "unsafe"},
}

// inputErr builds an *InputError at byte offset off of b (off < 0: no position).
func inputErr(sentinel error, b []byte, off int, format string, args ...any) *InputError {
	e := &InputError{Err: sentinel, Reason: fmt.Sprintf(format, args...)}
	if off >= 0 {
		e.Offset = off
		e.Line, e.Col = lineCol(b, off)
	}
	return e
}

// lineCol returns the 1-based line and character column of byte offset off in b.
func lineCol(b []byte, off int) (line, col int) {
	off = min(off, len(b))
	line, col = 1, 1
	for i := 0; i < off; {
		if b[i] == '\n' {
			line, col = line+1, 1
			i++
			continue
		}
		// Count characters, not bytes: step over a whole UTF-8 sequence (continuation bytes 10xxxxxx).
		i++
		for i < off && b[i]&0xC0 == 0x80 {
			i++
		}
		col++
	}
	return line, col
}
