package content

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
)

// Policy says what an uploaded page may hold. Whatever the knobs, a page never keeps scripts, event
// handler attributes, javascript: (or any non-listed) URLs, frames, objects, embeds, forms, <base>,
// <link>, <meta http-equiv>, or anything that makes the phone fetch from the network: no remote or
// relative src, no CSS url(), @import, @font-face or image-set(). Start from DefaultPolicy.
type Policy struct {
	// MaxBytes is the largest page accepted, before sanitising; 0 or above MaxPageBytes means
	// MaxPageBytes.
	MaxBytes int
	// Styles keeps <style> elements (outside SVG) and style attributes, with every CSS declaration
	// that could fetch (url(), image-set(), CSS escapes) and every at-rule but @media, @supports,
	// @container, @layer blocks and @keyframes removed.
	Styles bool
	// Images keeps <img> whose src is a data: URI of a PNG, GIF, JPEG, WebP or SVG image (base64).
	Images bool
	// SVG keeps inline SVG drawings: shapes, paths, text, gradients and clip paths with presentation
	// attributes (a url() in them only as a local "url(#id)" reference). No <use>, <image>,
	// <foreignObject>, <style>, animation or filter elements.
	SVG bool
	// LinkSchemes are the URL schemes an <a href> may use (lowercase, e.g. "https", "tel"); empty
	// means links lose their href. Relative URLs are never kept.
	LinkSchemes []string
}

// DefaultPolicy returns the policy for caller and callee cards: styles, data: images and SVG kept,
// links only to https:, tel:, sip:, sips: and mailto:, at most MaxPageBytes.
func DefaultPolicy() Policy {
	return Policy{MaxBytes: MaxPageBytes, Styles: true, Images: true, SVG: true,
		LinkSchemes: []string{"https", "tel", "sip", "sips", "mailto"}}
}

func (p Policy) maxBytes() int {
	if p.MaxBytes <= 0 || p.MaxBytes > MaxPageBytes {
		return MaxPageBytes
	}
	return p.MaxBytes
}

// rules is a Policy compiled: the allow-lists both the report walker and bluemonday are built from,
// so the two cannot drift apart.
type rules struct {
	pol     Policy
	elems   map[string]map[string]*regexp.Regexp // allowed element → its own attributes → value pattern (nil: any)
	global  map[string]*regexp.Regexp            // attributes allowed on every allowed element
	skip    map[string]bool                      // elements removed together with their content
	foreign map[string]bool                      // allowed SVG elements
	schemes map[string]bool
	bm      *bluemonday.Policy
}

var (
	// HTML elements for layout and text. Nothing here loads, runs or submits anything.
	htmlElems = strings.Fields(`html head body title meta main header footer section article aside nav
		div span p br hr h1 h2 h3 h4 h5 h6 ul ol li dl dt dd table caption colgroup col thead tbody
		tfoot tr th td b i u s em strong small mark sub sup abbr cite code pre kbd samp var q
		blockquote figure figcaption time address details summary del ins bdi bdo wbr ruby rt rp a`)
	// SVG elements that draw and nothing else.
	svgElems = strings.Fields(`svg g path circle ellipse rect line polyline polygon text tspan defs
		lineargradient radialgradient stop clippath desc`)
	svgAttrs = strings.Fields(`viewbox preserveaspectratio width height x y x1 y1 x2 y2 cx cy r rx ry fx fy
		dx dy d points transform transform-origin fill fill-opacity fill-rule stroke stroke-width
		stroke-opacity stroke-linecap stroke-linejoin stroke-dasharray stroke-dashoffset stroke-miterlimit
		opacity offset stop-color stop-opacity gradientunits gradienttransform spreadmethod text-anchor
		dominant-baseline font-size font-family font-weight font-style letter-spacing clip-path
		clip-rule clippathunits vector-effect shape-rendering visibility display pathlength`)
	// Elements dropped with everything inside them: code, embedded documents and raw-text elements
	// whose text would otherwise show up as page text. Includes bluemonday's own default set.
	skipElems = strings.Fields(`script style iframe frame frameset object embed applet noscript noembed
		noframes nostyle title template math xmp plaintext textarea select foreignobject`)
	ariaAttrs = strings.Fields(`aria-label aria-labelledby aria-describedby aria-hidden aria-live
		aria-current aria-roledescription aria-level aria-expanded aria-atomic aria-busy`)
)

// cssFuncs are the CSS functions a value may call: none of them fetches (no url, image, image-set,
// cross-fade, element, src, expression).
const cssFuncs = `rgba?|hsla?|hwb|lab|lch|oklab|oklch|color-mix|light-dark|calc|min|max|clamp|var|env|` +
	`rotate[xyz3d]*|translate[xyz3d]*|scale[xyz3d]*|skew[xy]?|matrix(?:3d)?|perspective|` +
	`(?:repeating-)?(?:linear|radial|conic)-gradient|cubic-bezier|steps|repeat|minmax|fit-content|` +
	`attr|counters?|local|format|blur|brightness|contrast|drop-shadow|grayscale|hue-rotate|invert|` +
	`saturate|sepia|inset|circle|ellipse|polygon|nth-child|nth-of-type|nth-last-child|not|is|where|has`

var (
	// cssValueRe is what a kept CSS declaration value (and a style attribute) may look like: no
	// backslash escapes, no angle brackets, no @, and "(" only right after a function of cssFuncs.
	cssValueRe = regexp.MustCompile(`(?i)^(?:[-\w\s.,#%+:;!/'"*=]|(?:` + cssFuncs + `)\(|\))*$`)
	// svgValueRe is what an SVG presentation attribute may hold: cssValueRe plus local url(#id).
	svgValueRe  = regexp.MustCompile(`(?i)^(?:[-\w\s.,#%+:;!/'"*=]|(?:` + cssFuncs + `)\(|url\(#[-\w]+\)|\))*$`)
	dataImageRe = regexp.MustCompile(`^data:image/(?:gif|jpeg|png|svg\+xml|webp);base64,`)
	tokenRe     = regexp.MustCompile(`^[\p{L}\p{N}_\-:. ]*$`)
	numRe       = regexp.MustCompile(`^-?\d{1,6}%?$`)
)

var (
	rulesMu    sync.Mutex
	rulesCache = map[string]*rules{}
)

// compile returns the rules of p, built once per distinct policy.
func (p Policy) compile() *rules {
	key := strings.Join([]string{boolKey(p.Styles), boolKey(p.Images), boolKey(p.SVG), strings.Join(p.LinkSchemes, ",")}, "|")
	rulesMu.Lock()
	defer rulesMu.Unlock()
	if r, ok := rulesCache[key]; ok {
		return r
	}
	r := buildRules(p)
	if len(rulesCache) < 64 {
		rulesCache[key] = r
	}
	return r
}

func boolKey(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func buildRules(p Policy) *rules {
	r := &rules{pol: p, elems: map[string]map[string]*regexp.Regexp{}, global: map[string]*regexp.Regexp{},
		skip: map[string]bool{}, foreign: map[string]bool{}, schemes: map[string]bool{}}
	for _, e := range htmlElems {
		r.elems[e] = map[string]*regexp.Regexp{}
	}
	set := func(el, attr string, re *regexp.Regexp) { r.elems[el][attr] = re }
	set("meta", "charset", regexp.MustCompile(`(?i)^utf-8$`))
	set("meta", "name", regexp.MustCompile(`(?i)^(?:viewport|description|author|color-scheme|theme-color|format-detection)$`))
	// No ":" in content: no URL can hide there (http-equiv is never kept, so none would be read).
	set("meta", "content", regexp.MustCompile(`^[^<>:]*$`))
	set("ol", "start", numRe)
	set("ol", "reversed", regexp.MustCompile(`^(?:|reversed)$`))
	set("ol", "type", regexp.MustCompile(`^[1aAiI]$`))
	set("li", "value", numRe)
	for _, c := range []string{"td", "th"} {
		set(c, "colspan", numRe)
		set(c, "rowspan", numRe)
	}
	set("th", "scope", regexp.MustCompile(`(?i)^(?:row|col|rowgroup|colgroup)$`))
	set("col", "span", numRe)
	set("colgroup", "span", numRe)
	set("time", "datetime", regexp.MustCompile(`^[\w:+.\- ]*$`))
	set("details", "open", regexp.MustCompile(`^(?:|open)$`))
	// Presentational attributes of e-mail-style HTML, which card builders still emit. None loads
	// anything (the background attribute, a URL, is not among them).
	align := regexp.MustCompile(`(?i)^(?:left|right|center|justify|top|middle|bottom|baseline)$`)
	color := regexp.MustCompile(`^#?[A-Za-z0-9]{1,20}$`)
	for _, e := range []string{"table", "td", "th", "col", "colgroup", "img"} {
		set2 := func(a string, re *regexp.Regexp) {
			if r.elems[e] != nil {
				r.elems[e][a] = re
			}
		}
		set2("width", numRe)
		if e != "img" {
			set2("align", align)
			set2("valign", align)
			set2("bgcolor", color)
		}
	}
	set("table", "border", numRe)
	set("table", "cellpadding", numRe)
	set("table", "cellspacing", numRe)
	for _, e := range []string{"td", "th"} {
		set(e, "height", numRe)
	}
	for _, e := range []string{"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "thead", "tbody", "tfoot", "caption"} {
		set(e, "align", align)
	}
	for _, e := range []string{"tr", "thead", "tbody", "tfoot"} {
		set(e, "valign", align)
	}
	var links []string
	for _, s := range p.LinkSchemes {
		s = strings.ToLower(strings.TrimSpace(s))
		if s != "" && s != "javascript" && s != "vbscript" && s != "data" && s != "file" && !r.schemes[s] {
			r.schemes[s] = true
			links = append(links, regexp.QuoteMeta(s))
		}
	}
	if len(links) > 0 {
		set("a", "href", regexp.MustCompile(`(?i)^\s*(?:`+strings.Join(links, "|")+`):`))
	}
	if p.Images {
		r.elems["img"] = map[string]*regexp.Regexp{"src": dataImageRe, "alt": nil, "width": numRe, "height": numRe}
	}
	if p.SVG {
		for _, e := range svgElems {
			m := map[string]*regexp.Regexp{}
			for _, a := range svgAttrs {
				m[a] = svgValueRe
			}
			r.elems[e] = m
			r.foreign[e] = true
		}
		r.elems["svg"]["xmlns"] = regexp.MustCompile(`^http://www\.w3\.org/2000/svg$`)
	}
	if p.Styles {
		r.elems["style"] = map[string]*regexp.Regexp{"media": regexp.MustCompile(`^[\w\s(),:.-]*$`),
			"type": regexp.MustCompile(`(?i)^text/css$`)}
		r.global["style"] = cssValueRe
	}
	r.global["id"] = tokenRe
	r.global["class"] = tokenRe
	r.global["title"] = nil
	r.global["lang"] = regexp.MustCompile(`^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$`)
	r.global["dir"] = regexp.MustCompile(`(?i)^(?:ltr|rtl|auto)$`)
	r.global["role"] = regexp.MustCompile(`^[a-z ]*$`)
	r.global["hidden"] = regexp.MustCompile(`^(?:|hidden)$`)
	for _, a := range ariaAttrs {
		r.global[a] = nil
	}
	for _, e := range skipElems {
		if _, ok := r.elems[e]; !ok {
			r.skip[e] = true
		}
	}
	if !p.SVG {
		r.skip["svg"] = true
	}
	r.bm = r.bluemonday()
	return r
}

// bluemonday builds the bluemonday policy of the same allow-lists. Prepare runs it over the walker's
// output as the sanitiser of record: whatever the walker kept, bluemonday checks again.
func (r *rules) bluemonday() *bluemonday.Policy {
	b := bluemonday.NewPolicy()
	b.RequireParseableURLs(true)
	b.AllowRelativeURLs(false)
	if len(r.schemes) > 0 {
		b.AllowURLSchemes(slices.Sorted(maps.Keys(r.schemes))...)
	}
	if r.pol.Images {
		b.AllowDataURIImages()
	}
	b.AllowUnsafe(r.pol.Styles) // lets <style> text through; the walker sanitised it (bluemonday cannot)
	var skip []string
	for e := range r.skip {
		skip = append(skip, e)
	}
	b.SkipElementsContent(skip...)
	for e, attrs := range r.elems {
		b.AllowElements(e)
		b.AllowNoAttrs().OnElements(e)
		for a, re := range attrs {
			if re != nil {
				b.AllowAttrs(a).Matching(re).OnElements(e)
			} else {
				b.AllowAttrs(a).OnElements(e)
			}
		}
	}
	for a, re := range r.global {
		if re != nil {
			b.AllowAttrs(a).Matching(re).Globally()
		} else {
			b.AllowAttrs(a).Globally()
		}
	}
	return b
}
