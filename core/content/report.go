package content

// Removal kinds, stable strings of the upload API.
const (
	// KindElement: an element the policy does not allow. Name is the element; Detail is "content"
	// when what was inside it went too (scripts, styles outside policy, frames, objects, SVG when not
	// allowed), "" when only its tags went and its text stayed.
	KindElement = "element"
	// KindAttribute: an attribute the policy does not allow on its element (event handlers such as
	// onerror, srcdoc, target, …) or whose value it refuses. Name is the attribute, Element its element.
	KindAttribute = "attribute"
	// KindURL: an href or src removed for its URL (javascript:, a remote or relative src, a scheme
	// not in Policy.LinkSchemes). Name is the attribute, Element its element, Detail the URL.
	KindURL = "url"
	// KindCSS: a CSS declaration, rule or at-rule removed from a <style> element or a style attribute
	// (url(), @import, @font-face, escapes, …). Name is the property or at-rule, Element "style" or
	// the element the attribute was on, Detail what it held (its url(...) when it had one).
	KindCSS = "css"
	// KindComment: an HTML comment (Name "html") or a CSS comment (Name "css").
	KindComment = "comment"
	// KindDoctype: a doctype other than <!DOCTYPE html> (replaced by it). Detail is the old one.
	KindDoctype = "doctype"
)

// Removal is one kind of thing the sanitiser took out of a page, counted.
type Removal struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Element string `json:"element,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Count   int    `json:"count"`
	Line    int    `json:"line"` // of the first occurrence, 1-based (for CSS in a <style>: where its text starts)
}

// Report says what Prepare removed from a page, in order of first occurrence. Equal removals (same
// Kind, Name, Element and Detail) are counted in one entry.
type Report struct {
	Removed  []Removal `json:"removed"`
	BytesIn  int       `json:"bytes_in"`
	BytesOut int       `json:"bytes_out"`
}

// Clean reports whether nothing was removed.
func (r Report) Clean() bool { return len(r.Removed) == 0 }

// Count returns how many things of kind were removed ("" = of any kind).
func (r Report) Count(kind string) int {
	n := 0
	for _, x := range r.Removed {
		if kind == "" || x.Kind == kind {
			n += x.Count
		}
	}
	return n
}

type reportBuilder struct {
	r     Report
	index map[[4]string]int
}

func (b *reportBuilder) add(kind, name, elem, detail string, line int) {
	k := [4]string{kind, name, elem, detail}
	if i, ok := b.index[k]; ok {
		b.r.Removed[i].Count++
		return
	}
	if b.index == nil {
		b.index = map[[4]string]int{}
	}
	b.index[k] = len(b.r.Removed)
	b.r.Removed = append(b.r.Removed, Removal{Kind: kind, Name: name, Element: elem, Detail: detail, Count: 1, Line: line})
}
