package content

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// Well-formed, for a page Herald accepts, means that the HTML Standard's parser (WHATWG HTML §13.2)
// builds the tree the markup spells out, without error recovery guessing on the author's behalf.
// golang.org/x/net/html's tokenizer is lenient and reports no parse errors itself, so checkWellFormed
// finds them from its tokens. It refuses, at the line and column of the first one:
//
//   - control characters other than tab, LF, FF and CR, and noncharacters (§13.2.3.5), also when a
//     character reference decodes to one ("&#1;", §13.2.5.80);
//   - markup cut off by the end of the input: an unterminated tag, comment or raw-text element;
//   - bogus comments ("<!x>", "<?x>", "</ x>") and "<!-->" (§13.2.5: parse errors), but for an XML
//     declaration "<?xml …?>" first in the page;
//   - a doctype that is not the first thing in the page, or a second one;
//   - a duplicate attribute, an attribute name holding a quote, "<" or "=", attributes on an end tag;
//   - "/>" on an HTML element that is not void (§13.1.2.1: the slash is ignored, the element stays
//     open); inside <svg> and <math> "/>" closes the element, as in XML;
//   - an end tag for a void element ("</br>"), or one with no open element of that name;
//   - misnesting: an end tag that would close an open element whose end tag is required ("<b><i></b>");
//   - a block element opening while a <p> holding an unclosed inline element is open ("<p><b><div>");
//   - an element whose end tag is required left open at the end ("<div>" never closed);
//   - content after </html>, or a second <html>, <head> or <body>.
//
// Elements whose end tag is optional (§13.1.2.4: p, li, dt, dd, tr, td, th, thead, tbody, tfoot,
// colgroup, caption, option, optgroup, rt, rp, html, head, body) may be left open; a <p> is closed by
// a block element as the parser does. Unknown element names are not malformed: the sanitiser removes
// what its policy does not know. Character references are not checked (the tokenizer decodes them
// as the parser does).

var voidElems = setOf(`area base br col embed hr img input link meta source track wbr param keygen`)

var optionalEnd = setOf(`p li dt dd tr td th thead tbody tfoot colgroup caption option optgroup rt rp
	html head body`)

// pClosers are the start tags that close an open <p> (§13.2.6.4.7 "in body").
var pClosers = setOf(`address article aside blockquote center details dialog dir div dl fieldset
	figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr main menu nav ol p pre section
	summary table ul`)

// scopeFence stops the search for an open <p> (the "button scope" of §13.2.4.2).
var scopeFence = setOf(`applet caption html table td th marquee object template button svg math
	foreignobject desc title`)

func setOf(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

type openElem struct {
	name string
	off  int
}

// checkWellFormed returns nil or an *InputError wrapping ErrMalformed.
func checkWellFormed(b []byte) error {
	if err := checkChars(b); err != nil {
		return err
	}
	z := html.NewTokenizer(bytes.NewReader(b))
	var (
		stack   []openElem
		off     int
		seen    = map[string]bool{} // html, head, body
		doctype bool
		content bool // anything but whitespace seen
		ended   bool // </html> seen
		foreign int  // depth inside svg/math
	)
	bad := func(at int, format string, args ...any) error {
		return inputErr(ErrMalformed, b, at, format, args...)
	}
	for {
		tt := z.Next()
		raw := z.Raw()
		at := off
		off += len(raw)
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				return bad(at, "%v", z.Err())
			}
			if at < len(b) {
				return bad(at, "markup cut off by the end of the page")
			}
			break
		}
		switch tt {
		case html.DoctypeToken:
			if doctype || content {
				return bad(at, "doctype not at the start of the page")
			}
			doctype = true
			continue
		case html.CommentToken:
			switch {
			case !content && !doctype && bytes.HasPrefix(raw, []byte("<?xml ")) && bytes.HasSuffix(raw, []byte("?>")):
				// An XML declaration first (XHTML served as HTML): a bogus comment to the parser, harmless.
			case !bytes.HasPrefix(raw, []byte("<!--")):
				return bad(at, "bogus comment %q (a comment is <!-- … -->)", truncate(string(raw), 40))
			case len(raw) < len("<!---->") || !bytes.HasSuffix(raw, []byte("-->")):
				return bad(at, "unterminated comment")
			}
			continue
		case html.TextToken:
			if r, ok := badRune(z.Text()); !ok { // the raw bytes passed checkChars: a reference
				return bad(at, "character reference to %U", r)
			}
			if len(bytes.TrimLeft(raw, " \t\r\n\f\ufeff")) == 0 {
				continue
			}
			content = true
			if ended {
				return bad(at, "text after </html>")
			}
			continue
		}
		content = true
		name, more := z.TagName()
		tag := string(name)
		for more {
			var v []byte
			_, v, more = z.TagAttr()
			if r, ok := badRune(v); !ok {
				return bad(at, "character reference to %U in an attribute of <%s>", r, tag)
			}
		}
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			if ended {
				return bad(at, "<%s> after </html>", tag)
			}
			if err := checkAttrs(raw, tag, b, at); err != nil {
				return err
			}
			if tag == "html" || tag == "head" || tag == "body" {
				if seen[tag] {
					return bad(at, "second <%s>", tag)
				}
				seen[tag] = true
			}
			if tt == html.SelfClosingTagToken {
				if foreign == 0 && !voidElems[tag] {
					return bad(at, "<%s/> is not self-closing in HTML: the element stays open", tag)
				}
				continue
			}
			if voidElems[tag] && foreign == 0 {
				continue
			}
			if foreign == 0 {
				var err error
				if stack, err = implicitClose(stack, tag, b, at); err != nil {
					return err
				}
			}
			if len(stack) >= maxDepth {
				return bad(at, "<%s> nested deeper than %d elements", tag, maxDepth)
			}
			if tag == "svg" || tag == "math" || foreign > 0 {
				foreign++
			}
			stack = append(stack, openElem{tag, at})
		case html.EndTagToken:
			if len(rawAttrNames(raw)) > 0 {
				return bad(at, "attributes on the end tag </%s>", tag)
			}
			if voidElems[tag] && foreign == 0 {
				return bad(at, "end tag </%s> of a void element", tag)
			}
			i := len(stack) - 1
			for i >= 0 && stack[i].name != tag {
				i--
			}
			if i < 0 {
				return bad(at, "end tag </%s> without an open <%s>", tag, tag)
			}
			for j := len(stack) - 1; j > i; j-- {
				if !optionalEnd[stack[j].name] || foreign > 0 {
					l, c := lineCol(b, stack[j].off)
					return bad(at, "</%s> while <%s> (opened at %d:%d) is still open", tag, stack[j].name, l, c)
				}
			}
			if foreign > 0 {
				foreign--
			}
			stack = stack[:i]
			if tag == "html" {
				ended = true
			}
		}
	}
	for j := len(stack) - 1; j >= 0; j-- {
		if !optionalEnd[stack[j].name] {
			return bad(stack[j].off, "<%s> is never closed", stack[j].name)
		}
	}
	return nil
}

// implicitClose pops what a start tag closes by itself: an open <p> (for a block element), the
// previous <li>, <dt>/<dd>, <option>, <td>/<th> or <tr> (§13.1.2.4). It refuses to close an element
// whose end tag is required on the way.
func implicitClose(stack []openElem, tag string, b []byte, at int) ([]openElem, error) {
	var targets map[string]bool
	var fence map[string]bool
	switch {
	case pClosers[tag]:
		targets, fence = setP, scopeFence
	case tag == "li":
		targets, fence = setLI, listFence
	case tag == "dt" || tag == "dd":
		targets, fence = setDTDD, listFence
	case tag == "option" || tag == "optgroup":
		targets, fence = setOption, listFence
	case tag == "td" || tag == "th":
		targets, fence = setCell, tableFence
	case tag == "tr":
		targets, fence = setRow, tableFence
	case tag == "thead" || tag == "tbody" || tag == "tfoot":
		targets, fence = setSection, tableFence
	case tag == "body":
		targets, fence = setHead, nil
	default:
		return stack, nil
	}
	low := -1 // the outermost element the tag closes, inside the fence
	for i := len(stack) - 1; i >= 0; i-- {
		n := stack[i].name
		if targets[n] {
			low = i
		} else if fence[n] {
			break
		}
	}
	if low < 0 {
		return stack, nil
	}
	for j := len(stack) - 1; j > low; j-- {
		if !optionalEnd[stack[j].name] {
			l, c := lineCol(b, stack[j].off)
			return nil, inputErr(ErrMalformed, b, at, "<%s> closes <%s> while <%s> (opened at %d:%d) is still open",
				tag, stack[low].name, stack[j].name, l, c)
		}
	}
	return stack[:low], nil
}

var (
	setP       = setOf("p")
	setLI      = setOf("li")
	setDTDD    = setOf("dt dd")
	setOption  = setOf("option")
	setCell    = setOf("td th")
	setRow     = setOf("tr td th")
	setSection = setOf("thead tbody tfoot tr td th")
	setHead    = setOf("head")
	listFence  = setOf("ul ol dl select datalist table section article aside nav header footer main blockquote figure details td th svg math")
	tableFence = setOf("table svg math")
)

// maxAttrs and maxDepth bound an element's attributes and the elements' nesting, far beyond what a
// card needs: the checks of duplicates (each name against the earlier ones) and of implied end
// tags (a scan of the open elements per block tag) are quadratic in them, and a 1 MiB upload of one
// tag's 200,000 attributes, or of 100,000 nested <div>s, took tens of seconds of a core each.
const (
	maxAttrs = 64
	maxDepth = 256
)

// checkAttrs refuses duplicate attributes (which the tokenizer drops silently, keeping the first, as
// a browser does: a sanitiser and a browser must never read different values) and attribute names no
// browser would read as the author meant.
func checkAttrs(raw []byte, tag string, b []byte, at int) error {
	names := rawAttrNames(raw)
	if len(names) > maxAttrs {
		return inputErr(ErrMalformed, b, at, "more than %d attributes in <%s>", maxAttrs, tag)
	}
	for i, name := range names {
		if strings.ContainsAny(name, "\"'<=") {
			return inputErr(ErrMalformed, b, at, "attribute name %q in <%s>", truncate(name, 40), tag)
		}
		for _, n := range names[:i] {
			if n == name {
				return inputErr(ErrMalformed, b, at, "duplicate attribute %s in <%s>", name, tag)
			}
		}
	}
	return nil
}

// rawAttrNames returns the lowercase attribute names of one raw start or end tag, following the
// tokenizer states of WHATWG HTML §13.2.5.32-39 (before/after attribute name, attribute value
// quoted and unquoted).
func rawAttrNames(raw []byte) []string {
	i := 1
	if i < len(raw) && raw[i] == '/' {
		i++
	}
	for i < len(raw) && !isHTMLSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' { // tag name
		i++
	}
	var names []string
	for i < len(raw) {
		for i < len(raw) && (isHTMLSpace(raw[i]) || raw[i] == '/') {
			i++
		}
		if i >= len(raw) || raw[i] == '>' {
			break
		}
		start := i
		i++ // a first "=" belongs to the name (§13.2.5.32)
		for i < len(raw) && !isHTMLSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' && raw[i] != '=' {
			i++
		}
		names = append(names, strings.ToLower(string(raw[start:i])))
		for i < len(raw) && isHTMLSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || raw[i] != '=' {
			continue
		}
		i++
		for i < len(raw) && isHTMLSpace(raw[i]) {
			i++
		}
		if i < len(raw) && (raw[i] == '"' || raw[i] == '\'') {
			q := raw[i]
			i++
			for i < len(raw) && raw[i] != q {
				i++
			}
			i++
			continue
		}
		for i < len(raw) && !isHTMLSpace(raw[i]) && raw[i] != '>' {
			i++
		}
	}
	return names
}

func isHTMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// checkChars refuses control characters and noncharacters the HTML Standard calls parse errors
// (§13.2.3.5).
func checkChars(b []byte) error {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if badChar(r) {
			return inputErr(ErrMalformed, b, i, "control character or noncharacter %U", r)
		}
		i += n
	}
	return nil
}

func badChar(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\n' && r != '\f' && r != '\r' ||
		r == 0x7F || r >= 0x80 && r <= 0x9F || r&0xFFFE == 0xFFFE || r >= 0xFDD0 && r <= 0xFDEF
}

// badRune returns the first character of b that checkChars would refuse; the tokenizer decodes a
// character reference such as "&#1;" or "&#x80;" into one (§13.2.5.80: a parse error).
func badRune(b []byte) (rune, bool) {
	for _, r := range string(b) {
		if badChar(r) {
			return r, false
		}
	}
	return 0, true
}

// errNotUTF8 returns an *InputError at the first byte that is not UTF-8, or nil.
func errNotUTF8(b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return inputErr(ErrNotUTF8, b, i, "invalid utf-8 byte 0x%02X at offset %d", b[i], i)
		}
		i += n
	}
	return nil
}
