package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/herald-ims/herald/core/store"
)

// errClass names the store error class of err, for comparing two stores' answers.
func errClass(err error) string {
	for _, c := range []struct {
		name string
		err  error
	}{{"identity_taken", store.ErrIdentityTaken}, {"conflict", store.ErrConflict}, {"not_found", store.ErrNotFound},
		{"invalid", store.ErrInvalid}, {"unavailable", store.ErrUnavailable}, {"closed", store.ErrClosed}} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return "ok"
}

// TestSameAsBolt is a differential test: one seeded random sequence of 400 operations (page
// uploads, creates and replaces under every kind of precondition, identity moves, unknown
// references, deletes, reads, paged lists, counts) is run against the Bolt store and the Redis
// store, and every answer must be the same: the same records with the same revisions, the same
// error classes, the same list pages and cursors.
func TestSameAsBolt(t *testing.T) {
	m := miniredis.RunT(t)
	rs, _ := open(t, m.Addr())
	bs, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "b.db"), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	stores := []store.Store{bs, rs}
	ctx := context.Background()
	ids := []string{"a", "b", "c", "+12125551111", "d.e@x"}
	idents := []string{"alice@home1.net", "+12125551111", "tel:+1-212-555-2222", "sip:bob@home1.net", "+12125553333", "carol@home1.net"}
	var refs []string
	revs := map[string]uint64{}
	classes := map[string]int{} // outcome of each kind of operation, to check the mix is exercised
	for step := range 400 {
		var op string
		var got [2]string
		for i, st := range stores {
			r := rand.New(rand.NewPCG(uint64(step), 7)) // the same choices for both stores
			var out any
			var err error
			switch r.IntN(10) {
			case 0:
				p := testPage(t, "p.html", fmt.Sprintf("page %d", r.IntN(4)))
				op = "PutPage"
				out, err = st.PutPage(ctx, p)
				if err == nil && i == 0 {
					refs = append(refs, out.(string))
				}
			case 1, 2, 3, 4:
				sub := store.Subscriber{ID: ids[r.IntN(len(ids))], PushCapable: r.IntN(2) == 0}
				for range 1 + r.IntN(2) {
					sub.Identities = append(sub.Identities, idents[r.IntN(len(idents))])
				}
				if len(refs) > 0 && r.IntN(3) > 0 {
					sub.CallerCard = refs[r.IntN(len(refs))]
				}
				if r.IntN(8) == 0 {
					sub.CalleeCard = strings.Repeat("f", 40) // no such page
				}
				var pre store.Precondition
				switch r.IntN(4) {
				case 1:
					pre.IfNoneMatch = true
				case 2:
					pre.IfMatch = revs[sub.ID]
				case 3:
					pre.IfMatch = revs[sub.ID] + 1 + uint64(r.IntN(3))
				}
				op = fmt.Sprintf("Put %+v %+v", sub, pre)
				var s store.Subscriber
				s, err = st.Put(ctx, sub, pre)
				out = s
				if err == nil && i == 1 {
					revs[s.ID] = s.Revision
				}
			case 5:
				id := ids[r.IntN(len(ids))]
				pre := store.Precondition{}
				if r.IntN(2) == 0 {
					pre.IfMatch = revs[id] + uint64(r.IntN(2))
				}
				op = fmt.Sprintf("Delete %s %+v", id, pre)
				err = st.Delete(ctx, id, pre)
			case 6:
				id := ids[r.IntN(len(ids))]
				op = "Get " + id
				out, err = st.Get(ctx, id)
			case 7:
				idt := idents[r.IntN(len(idents))]
				op = "Resolve " + idt
				out, err = st.Resolve(ctx, idt)
			case 8:
				op = "List"
				var pages [][]store.Subscriber
				var cursors []string
				cursor := ""
				for {
					var page []store.Subscriber
					page, cursor, err = st.List(ctx, cursor, 2)
					if err != nil {
						break
					}
					pages, cursors = append(pages, page), append(cursors, cursor)
					if cursor == "" {
						break
					}
				}
				out = fmt.Sprint(pages, cursors)
			default:
				op = "Count"
				out, err = st.Count(ctx)
			}
			got[i] = fmt.Sprintf("%s %+v", errClass(err), out)
			if i == 0 {
				classes[strings.Fields(op)[0]+" "+errClass(err)]++
			}
		}
		if got[0] != got[1] {
			t.Fatalf("step %d %s:\n bolt:  %s\n redis: %s", step, op, got[0], got[1])
		}
	}
	for _, want := range []string{"Put ok", "Put conflict", "Put not_found", "Put identity_taken", "Put invalid", "Delete ok",
		"Delete conflict", "Delete not_found", "Get ok", "Resolve ok", "List ok", "PutPage ok"} {
		if classes[want] == 0 {
			t.Errorf("no %q in the sequence: %v", want, classes)
		}
	}
	for _, id := range ids { // the end states agree too
		a, ea := bs.Get(ctx, id)
		b, eb := rs.Get(ctx, id)
		if errClass(ea) != errClass(eb) || !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: bolt %+v %v, redis %+v %v", id, a, ea, b, eb)
		}
	}
}
