package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/herald-ims/herald/core/content"
)

// mapSource is a Source over maps, for an index not built on Bolt.
type mapSource struct{ pages map[string]*content.Page }

func (m mapSource) GetPage(_ context.Context, ref string) (*content.Page, error) {
	if p := m.pages[ref]; p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("%w: page %q", ErrNotFound, ref)
}

func (m mapSource) GetClip(_ context.Context, ref string) (Clip, error) {
	return Clip{}, fmt.Errorf("%w: clip %q", ErrNotFound, ref)
}

// TestLiveApplyResync: an index over another Source (NewLiveFrom) follows Apply in revision order,
// ignores a duplicate or older change (a replay after a resynchronisation), and Resync makes it hold
// exactly the given set: added, changed, removed, an identity moved from one subscriber to another,
// and unchanged entries keep their cached page.
func TestLiveApplyResync(t *testing.T) {
	p1, p2 := testPage(t, "a.html", "one"), testPage(t, "b.html", "two")
	src := mapSource{pages: map[string]*content.Page{PageRef(p1): p1, PageRef(p2): p2}}
	a := Subscriber{ID: "a", Identities: []string{"+15551", "a@home1.net"}, CallerCard: PageRef(p1), Revision: 1}
	b := Subscriber{ID: "b", Identities: []string{"+15552"}, Revision: 2}
	l := NewLiveFrom(src, []Subscriber{a, b}, LiveOptions{})
	if pr, ok := l.Lookup("a@home1.net"); !ok || pr.CallerCard != p1 || l.Len() != 2 {
		t.Fatalf("start: %v %v len %d", pr, ok, l.Len())
	}
	a3 := a
	a3.CallerCard, a3.Revision = PageRef(p2), 3
	l.Apply([]Change{{Sub: a3, Old: &a}})
	l.Apply([]Change{{Sub: a, Old: &b}})  // older than what the index holds: ignored
	l.Apply([]Change{{Sub: a3, Old: &a}}) // a duplicate: ignored
	if pr, ok := l.Lookup("+15551"); !ok || pr.CallerCard != p2 || l.Len() != 2 {
		t.Fatalf("after apply: %v %v len %d", pr, ok, l.Len())
	}
	l.Apply([]Change{{Sub: b, Old: &b, Deleted: true}})
	if _, ok := l.Lookup("+15552"); ok || l.Len() != 1 {
		t.Fatalf("delete applied: found %t len %d", ok, l.Len())
	}
	// Resync: a keeps revision 3 (cache kept), b is back with a@home1.net moved to it, c is new.
	b5 := Subscriber{ID: "b", Identities: []string{"+15552", "a@home1.net"}, Revision: 5}
	a4 := Subscriber{ID: "a", Identities: []string{"+15551"}, CallerCard: PageRef(p2), Revision: 4}
	c := Subscriber{ID: "c", Identities: []string{"+15553"}, CallerCard: PageRef(p1), Revision: 6}
	if n := l.Resync([]Subscriber{a4, b5, c}); n != 3 {
		t.Fatalf("resync changed %d, want 3", n)
	}
	if pr, ok := l.Lookup("a@home1.net"); !ok || pr.Key != "+15552" {
		t.Fatalf("moved identity: %v %v", pr, ok)
	}
	if pr, ok := l.Lookup("+15553"); !ok || pr.CallerCard != p1 || l.Len() != 3 {
		t.Fatalf("new subscriber: %v %v len %d", pr, ok, l.Len())
	}
	if n := l.Resync([]Subscriber{a4, c}); n != 1 || l.Len() != 2 {
		t.Fatalf("resync without b: changed %d len %d", n, l.Len())
	}
	for _, k := range []string{"+15552", "a@home1.net"} {
		if _, ok := l.Lookup(k); ok {
			t.Fatalf("%s still indexed after b left", k)
		}
	}
	if pr, ok := l.Lookup("+15551"); !ok || pr.CallerCard != p2 {
		t.Fatalf("unchanged a: %v %v", pr, ok)
	}
}
