package content

import (
	"bytes"
	"strings"
	"testing"
)

// fuzzSeeds are script-laden and ordinary pages: each XSS vector the policy is meant to stop.
var fuzzSeeds = []string{
	hello,
	doc(`<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a>`),
	doc(`<iframe src="https://evil.example/"></iframe><img src="https://t.example/p.gif"><link rel=stylesheet href=https://c.example/a.css>`),
	doc(`<p style="background:url(http://evil.example/x.png)">x</p><style>@import 'x.css'; p{background:url(//e.example/b.png)}</style>`),
	doc(`<svg><style><img src=x onerror=alert(1)></style></svg>`),
	doc(`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>`),
	doc(`<svg viewBox="0 0 1 1"><a href="javascript:alert(1)"><circle r="1" fill="url(#g)"/></a><use href="https://e.example/s.svg#x"/></svg>`),
	doc(`<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>`),
	doc(`<a href="java&#x09;script:alert(1)">t</a><a href="&#106;avascript:alert(1)">u</a>`),
	doc(`<style>p{color:red}/* x */ a<b{color:blue}</style><p style="color:red;expression(alert(1))">x</p>`),
	doc(`<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+PC9zdmc+" alt="s"><img src="data:image/png;base64,iVBORw0KGgo=">`),
	doc(`<object data="x"><embed src="y"></object><form action="https://e.example/"><input name=p></form><base href="https://e.example/">`),
	doc(`<table><tr><td>1<td>2</table><ul><li>a<li>b</ul><p>c<div>d</div><template><script>x</script></template>`),
	"<!DOCTYPE html><html><head><meta http-equiv=refresh content=\"0;url=javascript:alert(1)\"></head><body>x</body></html>",
	"<!-- c --><html><body><xmp><script>alert(1)</script></xmp><textarea></textarea><select><option>a</select></body></html>",
}

// FuzzPrepare: whatever the input, Prepare does not panic; a page it accepts holds nothing that
// runs code or fetches (checked by re-tokenising it with the tests' own checker, apart from the
// sanitiser's), bluemonday found nothing the walker had not reported, and preparing the output
// again removes nothing and changes no byte.
func FuzzPrepare(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, rep, err := Prepare("card.html", b, DefaultPolicy())
		if err != nil {
			if p != nil || Code(err) == "internal" || Code(err) == "unsafe" {
				t.Fatalf("Prepare = %v, %v (code %s)", p, err, Code(err))
			}
			return
		}
		if msg := unsafeOutput(p.Body); msg != "" {
			t.Fatalf("unsafe output (%s):\n%q\n%q", msg, b, p.Body)
		}
		for _, r := range rep.Removed {
			if strings.Contains(r.Detail, "bluemonday") {
				t.Fatalf("bluemonday removed what the walker kept: %+v\n%q", r, b)
			}
		}
		p2, rep2, err := Prepare("card.html", p.Body, DefaultPolicy())
		if err != nil {
			t.Fatalf("Prepare(output) = %v\n%q\n%q", err, b, p.Body)
		}
		if !rep2.Clean() || !bytes.Equal(p2.Body, p.Body) {
			t.Fatalf("not idempotent: %+v\n%q\n%q", rep2.Removed, p.Body, p2.Body)
		}
	})
}
