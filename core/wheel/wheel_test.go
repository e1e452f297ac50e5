package wheel

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// step is one call on a wheel: schedule (name at at), remove (name), or expire at now and expect
// exactly the names in fire.
type step struct {
	op   byte // 's' schedule, 'r' remove, 'e' expire
	name string
	at   int64
	fire []string
}

func runSteps(t *testing.T, w *Wheel[string], steps []step) {
	t.Helper()
	nodes := map[string]*Node[string]{}
	for i, s := range steps {
		switch s.op {
		case 's':
			n := nodes[s.name]
			if n == nil {
				n = &Node[string]{Value: s.name}
				nodes[s.name] = n
			}
			w.Schedule(n, s.at)
			if !n.Linked() || n.At() != s.at {
				t.Fatalf("step %d: %s not linked at %d after Schedule", i, s.name, s.at)
			}
		case 'r':
			w.Remove(nodes[s.name])
			if nodes[s.name].Linked() {
				t.Fatalf("step %d: %s linked after Remove", i, s.name)
			}
		case 'e':
			var got []string
			for _, n := range w.Expire(s.at, nil) {
				if n.Linked() {
					t.Fatalf("step %d: %s returned linked", i, n.Value)
				}
				if n.At() > s.at {
					t.Fatalf("step %d: %s due at %d fired early at %d", i, n.Value, n.At(), s.at)
				}
				got = append(got, n.Value)
			}
			slices.Sort(got)
			want := slices.Clone(s.fire)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: Expire(%d) fired %v, want %v", i, s.at, got, want)
			}
		}
	}
}

// TestWheelTable proves the wheel's contract on a 10 ns, 4-slot wheel with explicit instants: a node
// fires on the first Expire at or after its deadline rounded up to a tick start, never earlier; a
// past deadline fires at the next tick; a deadline beyond one revolution waits its round in a shared
// slot; a long pause fires everything due once; Schedule moves and Remove cancels.
func TestWheelTable(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"rounds up to the tick", []step{
			{op: 's', name: "a", at: 25},
			{op: 'e', at: 24}, {op: 'e', at: 29},
			{op: 'e', at: 30, fire: []string{"a"}},
			{op: 'e', at: 40},
		}},
		{"exact tick start", []step{
			{op: 's', name: "a", at: 30},
			{op: 'e', at: 29}, {op: 'e', at: 30, fire: []string{"a"}},
		}},
		{"past deadline is due at the next tick", []step{
			{op: 'e', at: 20},
			{op: 's', name: "a", at: 5},
			{op: 'e', at: 29}, {op: 'e', at: 30, fire: []string{"a"}},
		}},
		{"a later revolution in the same slot waits", []step{
			{op: 's', name: "near", at: 20}, {op: 's', name: "far", at: 60}, // slots 2 and 6&3 = 2
			{op: 'e', at: 20, fire: []string{"near"}},
			{op: 'e', at: 59},
			{op: 'e', at: 60, fire: []string{"far"}},
		}},
		{"long pause fires all that is due once", []step{
			{op: 's', name: "a", at: 15}, {op: 's', name: "b", at: 500}, {op: 's', name: "c", at: 1001},
			{op: 'e', at: 1000, fire: []string{"a", "b"}},
			{op: 'e', at: 1009}, {op: 'e', at: 1010, fire: []string{"c"}},
		}},
		{"schedule moves a node", []step{
			{op: 's', name: "a", at: 20}, {op: 's', name: "a", at: 50},
			{op: 'e', at: 40}, {op: 'e', at: 50, fire: []string{"a"}},
		}},
		{"schedule earlier", []step{
			{op: 's', name: "a", at: 90}, {op: 's', name: "a", at: 10},
			{op: 'e', at: 10, fire: []string{"a"}}, {op: 'e', at: 100},
		}},
		{"remove cancels", []step{
			{op: 's', name: "a", at: 20}, {op: 's', name: "b", at: 20}, {op: 'r', name: "a"},
			{op: 'e', at: 20, fire: []string{"b"}},
		}},
		{"fired nodes can be scheduled again", []step{
			{op: 's', name: "a", at: 10}, {op: 'e', at: 10, fire: []string{"a"}},
			{op: 's', name: "a", at: 10}, // now past: the next tick
			{op: 'e', at: 19}, {op: 'e', at: 20, fire: []string{"a"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := New[string](10, 4, 0)
			runSteps(t, w, c.steps)
		})
	}
}

// TestWheelModel checks the wheel against a model on 20,000 seeded random operations: each Expire
// fires exactly the nodes whose effective deadline (the tick start at or after max(deadline, the next
// tick when scheduled)) has come, and Len matches.
func TestWheelModel(t *testing.T) {
	const gran = 7
	w := New[int](gran, 8, 0)
	r := rand.New(rand.NewPCG(1, 2))
	nodes := make([]Node[int], 64)
	eff := map[int]int64{}
	now, lastTick := int64(0), int64(0)
	var dst []*Node[int]
	fired := 0
	for op := range 20000 {
		i := r.IntN(len(nodes))
		switch r.IntN(4) {
		case 0, 1:
			at := now - 20 + r.Int64N(300)
			nodes[i].Value = i
			w.Schedule(&nodes[i], at)
			tick := at / gran
			if at%gran != 0 && at > 0 {
				tick++
			}
			eff[i] = max(tick, lastTick+1) * gran
		case 2:
			w.Remove(&nodes[i])
			delete(eff, i)
		case 3:
			now += r.Int64N(40)
			if r.IntN(50) == 0 {
				now += 1000 // a pause longer than a revolution
			}
			dst = w.Expire(now, dst[:0])
			lastTick = now / gran
			var got, want []int
			for k, e := range eff {
				if e <= now {
					want = append(want, k)
				}
			}
			fired += len(dst)
			for _, n := range dst {
				got = append(got, n.Value)
				delete(eff, n.Value)
			}
			slices.Sort(got)
			slices.Sort(want)
			for _, k := range got {
				if nodes[k].Linked() || nodes[k].At() > now {
					t.Fatalf("op %d: node %d returned linked or early", op, k)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("op %d: Expire(%d) fired %v, want %v", op, now, got, want)
			}
		}
		if w.Len() != len(eff) {
			t.Fatalf("op %d: Len %d, want %d", op, w.Len(), len(eff))
		}
	}
	if fired < 1000 {
		t.Fatalf("only %d nodes fired: the model exercised too little", fired)
	}
}

// TestManualClock proves the test clock moves only when told.
func TestManualClock(t *testing.T) {
	var c Manual
	if c.Now() != 0 {
		t.Fatal("Manual starts at 0")
	}
	if got := c.Advance(3 * time.Millisecond); got != int64(3*time.Millisecond) || c.Now() != got {
		t.Fatalf("Advance: %d, Now %d", got, c.Now())
	}
	c.Set(5)
	if c.Now() != 5 {
		t.Fatalf("Set: Now %d", c.Now())
	}
	var _ Clock = &c
	var _ Clock = NewMono()
}
