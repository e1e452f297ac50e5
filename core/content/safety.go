package content

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// checkSafe is the last line: it re-tokenises a sanitised page and refuses it if it holds anything
// that could run code or fetch from the network, whatever the policy. It is independent of the
// allow-lists on purpose (a bug in them must not reach a phone), so it is written as a deny-list of
// what matters: elements outside the widest policy, event handlers, URL attributes other than
// an absolute href to a non-script scheme or an <img> data: image, and CSS that can fetch.
func checkSafe(b []byte) error {
	z := html.NewTokenizer(bytes.NewReader(b))
	foreign := 0
	inStyle := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return nil
		}
		tok := z.Token()
		switch tt {
		case html.DoctypeToken, html.CommentToken:
			return unsafe("%s token", tt)
		case html.TextToken:
			if inStyle && cssFetchRe.MatchString(tok.Data) {
				return unsafe("style element %q", truncate(cssFetchRe.FindString(tok.Data), 40))
			}
			inStyle = false
		case html.StartTagToken, html.SelfClosingTagToken:
			inStyle = false
			if !safeElems[tok.Data] || tok.Data == "style" && foreign > 0 {
				return unsafe("element <%s>", tok.Data)
			}
			for _, a := range tok.Attr {
				if err := safeAttr(tok.Data, a); err != nil {
					return err
				}
			}
			if tt == html.StartTagToken {
				if svgSet[tok.Data] {
					foreign++
				}
				inStyle = tok.Data == "style"
			}
		case html.EndTagToken:
			inStyle = false
			if svgSet[tok.Data] && foreign > 0 {
				foreign--
			}
		}
	}
}

var (
	safeElems = setOf(strings.Join(htmlElems, " ") + " " + strings.Join(svgElems, " ") + " img style")
	svgSet    = setOf(strings.Join(svgElems, " "))
	// cssFetchRe matches CSS that can load something (or hide from these checks: escapes, "<").
	cssFetchRe   = regexp.MustCompile(`(?i)url\s*\(|image-set\s*\(|image\s*\(|cross-fade\s*\(|element\s*\(|expression\s*\(|@import|@font-face|@namespace|(?:^|[^-\w])behavior\s*:|-moz-binding|\\|<`)
	badScheme    = regexp.MustCompile(`(?i)^\s*(?:javascript|vbscript|data|file|blob|filesystem|about):`)
	absoluteURL  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	localURLOnly = regexp.MustCompile(`(?i)url\(\s*#`)
)

func safeAttr(elem string, a html.Attribute) error {
	k, v := a.Key, a.Val
	switch {
	case strings.HasPrefix(k, "on"):
		return unsafe("event handler %s on <%s>", k, elem)
	case k == "href":
		if badScheme.MatchString(v) || !absoluteURL.MatchString(strings.TrimSpace(v)) {
			return unsafe("href %q on <%s>", truncate(v, 60), elem)
		}
	case k == "src":
		if elem != "img" || !dataImageRe.MatchString(v) {
			return unsafe("src %q on <%s>", truncate(v, 60), elem)
		}
	case k == "style":
		if cssFetchRe.MatchString(v) {
			return unsafe("style attribute %q on <%s>", truncate(v, 60), elem)
		}
	case urlAttrs[k] || k == "srcdoc" || k == "http-equiv" || strings.Contains(k, ":"):
		return unsafe("attribute %s on <%s>", k, elem)
	case svgSet[elem]:
		if cssFetchRe.MatchString(localURLOnly.ReplaceAllString(v, "")) {
			return unsafe("attribute %s=%q on <%s>", k, truncate(v, 60), elem)
		}
	}
	return nil
}

func unsafe(format string, args ...any) error {
	return &InputError{Err: ErrUnsafe, Reason: fmt.Sprintf(format, args...)}
}
