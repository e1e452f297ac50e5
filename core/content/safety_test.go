package content

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// unsafeOutput is the tests' own check of a sanitised page, written apart from checkSafe and the
// allow-lists: it re-tokenises the page and returns what would run code or fetch, "" if nothing.
func unsafeOutput(b []byte) string {
	z := html.NewTokenizer(strings.NewReader(string(b)))
	inStyle := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return ""
		}
		tok := z.Token()
		switch tt {
		case html.TextToken:
			if inStyle && testCSSFetch.MatchString(tok.Data) {
				return "style element: " + testCSSFetch.FindString(tok.Data)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			switch tok.Data {
			case "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "link", "form",
				"input", "button", "use", "image", "foreignobject", "animate", "set", "animatemotion",
				"animatetransform", "feimage", "audio", "video", "source", "portal", "noscript", "template", "math":
				return "element " + tok.Data
			}
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.Join(strings.Fields(a.Val), ""))
				switch {
				case strings.HasPrefix(a.Key, "on"):
					return "handler " + a.Key
				case strings.Contains(v, "javascript:") || strings.Contains(v, "vbscript:"):
					return "script url in " + a.Key
				case a.Key == "src" && !strings.HasPrefix(v, "data:image/"):
					return "src " + a.Val
				case a.Key == "href" && (!testAbsolute.MatchString(v) || strings.HasPrefix(v, "data:")):
					return "href " + a.Val
				case a.Key == "srcdoc" || a.Key == "xlink:href" || a.Key == "http-equiv" || a.Key == "srcset" ||
					a.Key == "action" || a.Key == "formaction" || a.Key == "background" || a.Key == "poster":
					return "attribute " + a.Key
				case testCSSFetch.MatchString(strings.ReplaceAll(v, "url(#", "")):
					return "fetching value in " + a.Key + ": " + a.Val
				}
			}
			inStyle = tt == html.StartTagToken && tok.Data == "style"
			continue
		}
		inStyle = false
	}
}

var (
	testCSSFetch = regexp.MustCompile(`(?i)url\(|image-set\(|@import|@font-face|expression\(|-moz-binding|\\`)
	testAbsolute = regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`)
)
