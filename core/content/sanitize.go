package content

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// Prepare makes an uploaded page safe to push to a stranger's phone and builds its Page: the one
// way a page reaches a caller or callee (seed pages and NewPage go through it too).
//
// In order, it refuses (with an *InputError wrapping the sentinel, which Code maps to a stable code):
// an unusable name (ErrBadName), no bytes (ErrEmptyPage), more than pol.MaxBytes (ErrPageTooLarge),
// bytes that are not UTF-8 (ErrNotUTF8, with the offset of the first bad byte), a body that is not an
// HTML document (ErrNotHTML: a doctype, <html> or a leading comment within the first 512 bytes), and
// HTML that is not well-formed (ErrMalformed, with line:col; see checkWellFormed for what that means).
//
// Then it sanitises with pol: a walker over the tokens applies the policy's allow-lists, sanitises CSS
// and records each removal in the Report; bluemonday, built from the same allow-lists, runs over
// the walker's output as the sanitiser of record (anything it still removes is reported too); a final
// check re-tokenises the result and refuses it (ErrUnsafe) should it still hold a script, an event
// handler, a javascript: or remote URL, a frame or a fetching style. A leading <!DOCTYPE html> is
// kept (any other doctype becomes it). The result is hashed and compressed once (see Page).
//
// Sanitising is idempotent: preparing a prepared page's Body removes nothing.
func Prepare(name string, body []byte, pol Policy) (*Page, Report, error) {
	rep := Report{BytesIn: len(body)}
	if err := checkName(name); err != nil {
		return nil, rep, err
	}
	switch {
	case len(body) == 0:
		return nil, rep, &InputError{Err: ErrEmptyPage, Reason: "no bytes"}
	case len(body) > pol.maxBytes():
		return nil, rep, &InputError{Err: ErrPageTooLarge, Reason: fmt.Sprintf("%d > %d bytes", len(body), pol.maxBytes())}
	}
	if err := errNotUTF8(body); err != nil {
		return nil, rep, err
	}
	if !looksHTML(body) {
		return nil, rep, &InputError{Err: ErrNotHTML, Reason: "no doctype, <html> or leading comment in the first 512 bytes"}
	}
	if err := checkWellFormed(body); err != nil {
		return nil, rep, err
	}
	r := pol.compile()
	mid, doctype, rb := r.walk(body)
	out := r.bm.SanitizeBytes(mid)
	if !bytes.Equal(out, mid) {
		diffRemovals(mid, out, &rb)
	}
	if err := checkSafe(out); err != nil {
		return nil, rep, err
	}
	if doctype != "" {
		out = append([]byte(doctype), out...)
	}
	rep.Removed = rb.r.Removed
	rep.BytesOut = len(out)
	if len(bytes.TrimSpace(trimDoctype(out))) == 0 {
		return nil, rep, &InputError{Err: ErrEmptyPage, Reason: "nothing the policy allows is left"}
	}
	if !looksHTML(out) { // the input did (checked above); this page lost its only <html> tag
		out = append([]byte("<!DOCTYPE html>"), out...)
	}
	p, err := newPage(name, out)
	if err != nil {
		return nil, rep, err
	}
	return p, rep, nil
}

func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, "\"/\\\r\n\x00") || len(name) > 255 {
		return &InputError{Err: ErrBadName, Reason: fmt.Sprintf("%q", name)}
	}
	return nil
}

// urlAttrs are attributes whose value is a URL: a removed one is reported as KindURL with the URL.
var urlAttrs = setOf(`href src srcset xlink:href action formaction background poster cite data
	codebase ping longdesc lowsrc dynsrc manifest icon profile usemap archive classid`)

// linkable lists, per element, the attribute bluemonday validates as a URL (bluemonday's linkable()).
var linkable = map[string]string{"a": "href", "area": "href", "base": "href", "link": "href",
	"blockquote": "cite", "del": "cite", "ins": "cite", "q": "cite",
	"audio": "src", "embed": "src", "iframe": "src", "img": "src", "script": "src", "source": "src",
	"track": "src", "video": "src"}

// walk applies the allow-lists to the tokens of b (already well-formed) and returns what is kept,
// serialised as bluemonday serialises (so that bluemonday, run over it, keeps it byte for byte),
// the doctype to put back in front ("" for none: the input's own "<!doctype html>" in its own case, or
// "<!DOCTYPE html>" in place of any other), and the removals.
func (r *rules) walk(b []byte) ([]byte, string, reportBuilder) {
	var (
		rb       reportBuilder
		out      bytes.Buffer
		doctype  string
		skipRoot string // element being dropped with its content
		skipN    int    // its nesting depth
		foreign  int    // depth inside allowed SVG
		inStyle  bool   // the next text is the content of a kept <style>
		line     = 1
	)
	out.Grow(len(b))
	z := html.NewTokenizer(bytes.NewReader(b))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		at := line
		line += bytes.Count(z.Raw(), []byte{'\n'})
		tok := z.Token()
		switch tt {
		case html.DoctypeToken:
			doctype = "<!DOCTYPE html>"
			if raw := z.Raw(); html5Doctype.Match(raw) {
				doctype = string(raw)
			} else if !strings.EqualFold(strings.TrimSpace(tok.Data), "html") {
				rb.add(KindDoctype, "doctype", "", truncate(tok.Data, 120), at)
			}
		case html.CommentToken:
			if skipN == 0 {
				rb.add(KindComment, "html", "", "", at)
			}
		case html.TextToken:
			switch {
			case skipN > 0:
			case inStyle:
				css, cuts := sanitizeStylesheet(tok.Data)
				r.addCuts(&rb, cuts, "style", at)
				out.WriteString(css)
			default:
				out.WriteString(tok.String())
			}
			inStyle = false
		case html.StartTagToken, html.SelfClosingTagToken:
			inStyle = false
			name := tok.Data
			if skipN > 0 {
				if name == skipRoot && tt == html.StartTagToken {
					skipN++
				}
				continue
			}
			if !r.allowed(name, foreign) {
				if (r.skip[name] || name == "style") && tt == html.StartTagToken && !voidElems[name] {
					skipRoot, skipN = name, 1
					rb.add(KindElement, name, "", "content", at)
				} else {
					rb.add(KindElement, name, "", "", at)
				}
				for _, a := range tok.Attr { // the URLs it would have loaded or linked to
					if urlAttrs[a.Key] {
						rb.add(KindURL, a.Key, name, truncate(a.Val, 200), at)
					}
				}
				continue
			}
			tok.Attr = r.filterAttrs(name, tok.Attr, &rb, at)
			out.WriteString(tok.String())
			if tt == html.StartTagToken {
				if r.foreign[name] {
					foreign++
				}
				inStyle = name == "style"
			}
		case html.EndTagToken:
			inStyle = false
			name := tok.Data
			if skipN > 0 {
				if name == skipRoot {
					skipN--
				}
				continue
			}
			if r.allowed(name, foreign) {
				out.WriteString(tok.String())
				if r.foreign[name] && foreign > 0 {
					foreign--
				}
			}
		}
	}
	return out.Bytes(), doctype, rb
}

// allowed reports whether the policy keeps element name at SVG depth foreign. A <style> inside SVG
// is never kept: a browser parses its content as markup there, the tokenizer as raw text (mXSS).
func (r *rules) allowed(name string, foreign int) bool {
	if name == "style" && foreign > 0 {
		return false
	}
	_, ok := r.elems[name]
	return ok
}

// filterAttrs keeps the attributes the policy allows on elem, in order, as bluemonday decides
// (element rule first, then global rule; then URL validation), and reports the others.
func (r *rules) filterAttrs(elem string, attrs []html.Attribute, rb *reportBuilder, line int) []html.Attribute {
	kept := attrs[:0:0]
	for _, a := range attrs {
		if a.Key == "style" {
			if _, ok := r.global["style"]; ok {
				v, cuts := sanitizeDecls(a.Val)
				r.addCuts(rb, cuts, elem, line)
				if strings.TrimSpace(v) == "" {
					if len(cuts) == 0 {
						rb.add(KindAttribute, "style", elem, "empty", line)
					}
					continue
				}
				a.Val = v
				kept = append(kept, a)
				continue
			}
		}
		if !r.attrAllowed(elem, a) {
			switch {
			case urlAttrs[a.Key]:
				rb.add(KindURL, a.Key, elem, truncate(a.Val, 200), line)
			default:
				rb.add(KindAttribute, a.Key, elem, "", line)
			}
			continue
		}
		if linkable[elem] == a.Key {
			u, ok := r.validURL(a.Val)
			if !ok {
				rb.add(KindURL, a.Key, elem, truncate(a.Val, 200), line)
				continue
			}
			a.Val = u
		}
		kept = append(kept, a)
	}
	return kept
}

func (r *rules) attrAllowed(elem string, a html.Attribute) bool {
	if re, ok := r.elems[elem][a.Key]; ok && (re == nil || re.MatchString(a.Val)) {
		return true
	}
	if re, ok := r.global[a.Key]; ok && (re == nil || re.MatchString(a.Val)) {
		return true
	}
	return false
}

var (
	dataBase64Prefix = regexp.MustCompile(`^data:[^,]*;base64,`)
	// html5Doctype is the HTML5 doctype as the walker keeps it, byte for byte (any letter case).
	html5Doctype  = regexp.MustCompile(`^(?i)<!doctype html>$`)
	doctypePrefix = regexp.MustCompile(`^(?i)<!doctype html>`)
)

// trimDoctype returns b without its leading HTML5 doctype.
func trimDoctype(b []byte) []byte {
	if loc := doctypePrefix.FindIndex(b); loc != nil {
		return b[loc[1]:]
	}
	return b
}

// validURL is bluemonday's URL check (RequireParseableURLs, no relative URLs, the policy's schemes,
// data: only for base64 images), rewritten here so the walker reports what bluemonday would drop.
func (r *rules) validURL(raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if strings.ContainsAny(raw, " \t\n") {
		if !strings.HasPrefix(raw, "data:") {
			return "", false
		}
		if m := dataBase64Prefix.FindString(raw); m != "" {
			raw = m + strings.NewReplacer("\r", "", "\n", "").Replace(raw[len(m):])
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "", false
	}
	if u.Scheme == "data" {
		if !r.pol.Images || u.RawQuery != "" || u.Fragment != "" {
			return "", false
		}
		m := dataImageRe.FindString("data:" + u.Opaque)
		if m == "" {
			return "", false
		}
		if _, err := base64.StdEncoding.DecodeString(u.Opaque[len(m)-len("data:"):]); err != nil {
			return "", false
		}
		return u.String(), true
	}
	if !r.schemes[u.Scheme] {
		return "", false
	}
	return u.String(), true
}

func (r *rules) addCuts(rb *reportBuilder, cuts []cssCut, elem string, line int) {
	for _, c := range cuts {
		if c.name == "comment" {
			rb.add(KindComment, "css", elem, "", line)
			continue
		}
		rb.add(KindCSS, c.name, elem, c.detail, line)
	}
}

// diffRemovals reports what bluemonday removed from the walker's output. The walker applies the same
// allow-lists, so this finds nothing unless the two disagree; should they, the report still says
// what went. Tokens are matched in order: bluemonday only drops tokens and attributes.
func diffRemovals(mid, out []byte, rb *reportBuilder) {
	toks := func(b []byte) []html.Token {
		var ts []html.Token
		z := html.NewTokenizer(bytes.NewReader(b))
		for z.Next() != html.ErrorToken {
			if t := z.Token(); t.Type != html.TextToken {
				ts = append(ts, t)
			}
		}
		return ts
	}
	a, b := toks(mid), toks(out)
	j := 0
	for _, t := range a {
		if j < len(b) && b[j].Type == t.Type && b[j].Data == t.Data {
			for _, at := range t.Attr {
				found := false
				for _, bt := range b[j].Attr {
					found = found || bt.Key == at.Key
				}
				if !found {
					rb.add(KindAttribute, at.Key, t.Data, "removed by bluemonday", 0)
				}
			}
			j++
			continue
		}
		if t.Type == html.StartTagToken || t.Type == html.SelfClosingTagToken {
			rb.add(KindElement, t.Data, "", "removed by bluemonday", 0)
		}
	}
}
