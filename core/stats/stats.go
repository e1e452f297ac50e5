// Package stats turns a plane's typed snapshot into Prometheus metrics, so that each counter and
// gauge is declared once: as a field of the plane's snapshot struct, whose tags give its /varz key
// (json), its metric (metric) and the metric's help text (help). /varz serves the same struct as
// JSON; [NewCollector] exports it to Prometheus. The model is nats-server's /varz and CoreDNS's
// metrics: one snapshot type per subsystem, read at scrape time, never a second set of counters.
//
// Tags:
//
//	Invites uint64 `json:"invites" metric:"herald_sip_invites_total,counter" help:"Initial INVITEs received."`
//	Busy    uint64 `json:"rejected_486" metric:"herald_sip_rejected_total{code=486},counter" help:"…"`
//	Pages   map[string]uint64 `json:"page_responses" metric:"herald_web_page_responses_total{encoding},counter" help:"…"`
//
// A label written name=value is fixed for that field; a label written as a bare name takes its
// values from the keys of a map field, one map level per bare label, in order. Fields of one
// metric name share their kind and label names; the help text may be given on the first of them
// only. Numeric fields (integers, floats, bool as 0/1, time.Duration as seconds) must carry a
// metric tag: a number on /varz that Prometheus does not see is refused at construction, as is a
// malformed tag. Struct fields without a metric tag are walked (they are /varz sub-objects);
// strings and fields tagged json:"-" are skipped.
package stats

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Kind is a metric's Prometheus type.
type Kind uint8

// Kinds.
const (
	Counter Kind = iota
	Gauge
)

func (k Kind) String() string {
	if k == Gauge {
		return "gauge"
	}
	return "counter"
}

// Sample is one value of a snapshot: its metric, labels and the /varz path it sits at.
type Sample struct {
	Name   string
	Kind   Kind
	Labels map[string]string
	Value  float64
	Path   []string // JSON keys from the snapshot's root (map keys included)
}

// field is the parsed metric tag of one struct field.
type field struct {
	name   string
	kind   Kind
	fixed  [][2]string // name=value labels
	keyed  []string    // labels taken from map keys, outermost first
	help   string
	json   string
	index  []int
	metric bool // false: a struct to walk
	sub    *schema
}

// schema is a struct type's fields, parsed once.
type schema struct {
	fields []field
}

var (
	schemasMu sync.Mutex
	schemas   = map[reflect.Type]*schema{}
	declMu    sync.Mutex
	declared  = map[string]Kind{} // every metric name a collector was built for
)

var durationType = reflect.TypeFor[time.Duration]()

// schemaOf parses t's tags (t a struct type).
func schemaOf(t reflect.Type) (*schema, error) {
	schemasMu.Lock()
	s, ok := schemas[t]
	schemasMu.Unlock()
	if ok {
		return s, nil
	}
	s = &schema{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		js := sf.Tag.Get("json")
		jname, _, _ := strings.Cut(js, ",")
		if jname == "-" {
			continue
		}
		if jname == "" {
			jname = sf.Name
		}
		f := field{json: jname, index: sf.Index, help: sf.Tag.Get("help")}
		tag, hasTag := sf.Tag.Lookup("metric")
		ft := sf.Type
		if !hasTag {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.Struct:
				sub, err := schemaOf(ft)
				if err != nil {
					return nil, err
				}
				f.sub = sub
				s.fields = append(s.fields, f)
			case ft.Kind() == reflect.String:
			default:
				if numeric(ft) || ft.Kind() == reflect.Map {
					return nil, fmt.Errorf("stats: %s.%s (%s) is a number without a metric tag: /varz would show what Prometheus does not", t, sf.Name, ft)
				}
			}
			continue
		}
		if err := parseTag(tag, &f); err != nil {
			return nil, fmt.Errorf("stats: %s.%s: %w", t, sf.Name, err)
		}
		// The field's type: maps nest once per keyed label down to a number.
		vt := ft
		for range f.keyed {
			if vt.Kind() != reflect.Map || vt.Key().Kind() != reflect.String {
				return nil, fmt.Errorf("stats: %s.%s: %d keyed labels need as many map[string] levels", t, sf.Name, len(f.keyed))
			}
			vt = vt.Elem()
		}
		if !numeric(vt) {
			return nil, fmt.Errorf("stats: %s.%s: %s is not a number", t, sf.Name, vt)
		}
		f.metric = true
		s.fields = append(s.fields, f)
	}
	schemasMu.Lock()
	schemas[t] = s
	schemasMu.Unlock()
	return s, nil
}

// parseTag reads "name{a=b,c},kind".
func parseTag(tag string, f *field) error {
	i := strings.LastIndexByte(tag, ',')
	if i < 0 {
		return fmt.Errorf("metric tag %q: want name,kind", tag)
	}
	switch tag[i+1:] {
	case "counter":
		f.kind = Counter
	case "gauge":
		f.kind = Gauge
	default:
		return fmt.Errorf("metric tag %q: kind %q is neither counter nor gauge", tag, tag[i+1:])
	}
	name := tag[:i]
	if open := strings.IndexByte(name, '{'); open >= 0 {
		if !strings.HasSuffix(name, "}") {
			return fmt.Errorf("metric tag %q: unclosed label list", tag)
		}
		for _, l := range strings.Split(name[open+1:len(name)-1], ",") {
			k, v, fixed := strings.Cut(strings.TrimSpace(l), "=")
			if !validName(k) {
				return fmt.Errorf("metric tag %q: bad label name %q", tag, k)
			}
			if fixed {
				if len(f.keyed) > 0 {
					return fmt.Errorf("metric tag %q: fixed labels come before keyed ones", tag)
				}
				f.fixed = append(f.fixed, [2]string{k, v})
			} else {
				f.keyed = append(f.keyed, k)
			}
		}
		name = name[:open]
	}
	if !validName(name) {
		return fmt.Errorf("metric tag %q: bad metric name %q", tag, name)
	}
	if f.kind == Counter && !strings.HasSuffix(name, "_total") {
		return fmt.Errorf("metric tag %q: a counter's name ends in _total", tag)
	}
	f.name = name
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func numeric(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Bool:
		return true
	}
	return false
}

func number(v reflect.Value) float64 {
	if v.Type() == durationType {
		return time.Duration(v.Int()).Seconds()
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint())
	case reflect.Bool:
		if v.Bool() {
			return 1
		}
		return 0
	default:
		return v.Float()
	}
}

// Walk calls fn for every metric value of the snapshot v (a struct or a pointer to one). It
// returns an error for a type whose tags are malformed.
func Walk(v any, fn func(Sample)) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("stats: snapshot is a %s, not a struct", rv.Kind())
	}
	s, err := schemaOf(rv.Type())
	if err != nil {
		return err
	}
	walk(s, rv, nil, fn)
	return nil
}

func walk(s *schema, rv reflect.Value, path []string, fn func(Sample)) {
	for i := range s.fields {
		f := &s.fields[i]
		fv := rv.FieldByIndex(f.index)
		p := append(slices.Clip(path), f.json)
		if !f.metric {
			for fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					break
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				walk(f.sub, fv, p, fn)
			}
			continue
		}
		labels := make(map[string]string, len(f.fixed)+len(f.keyed))
		for _, l := range f.fixed {
			labels[l[0]] = l[1]
		}
		leaf(f, fv, 0, labels, p, fn)
	}
}

// leaf emits the value(s) of a metric field, descending one map level per keyed label.
func leaf(f *field, v reflect.Value, depth int, labels map[string]string, path []string, fn func(Sample)) {
	if depth == len(f.keyed) {
		fn(Sample{Name: f.name, Kind: f.kind, Labels: maps.Clone(labels), Value: number(v), Path: path})
		return
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		labels[f.keyed[depth]] = k.String()
		leaf(f, v.MapIndex(k), depth+1, labels, append(slices.Clip(path), k.String()), fn)
	}
	delete(labels, f.keyed[depth])
}

// metricDesc is one metric name's description, merged over the fields that carry it.
type metricDesc struct {
	desc   *prometheus.Desc
	kind   Kind
	labels []string
}

// Collector exports a snapshot function's value to Prometheus.
type Collector struct {
	snap  func() any
	descs map[string]*metricDesc
}

// NewCollector returns a Collector of the snapshots snap returns, all of type T. It panics on a
// malformed tag or on fields of one metric name that disagree (kind, label names, help): the
// snapshot types are program constants, and every one is built when the binary starts.
func NewCollector[T any](snap func() T) *Collector {
	c, err := newCollector(reflect.TypeFor[T](), func() any { return snap() })
	if err != nil {
		panic(err)
	}
	return c
}

func newCollector(t reflect.Type, snap func() any) (*Collector, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("stats: snapshot type %s is not a struct", t)
	}
	s, err := schemaOf(t)
	if err != nil {
		return nil, err
	}
	type proto struct {
		kind   Kind
		labels []string
		help   string
		where  string
	}
	protos := map[string]*proto{}
	var order []string
	var visit func(s *schema, where string) error
	visit = func(s *schema, where string) error {
		for i := range s.fields {
			f := &s.fields[i]
			w := where + "." + f.json
			if !f.metric {
				if err := visit(f.sub, w); err != nil {
					return err
				}
				continue
			}
			var ls []string
			for _, l := range f.fixed {
				ls = append(ls, l[0])
			}
			ls = append(ls, f.keyed...)
			p, ok := protos[f.name]
			if !ok {
				protos[f.name] = &proto{kind: f.kind, labels: ls, help: f.help, where: w}
				order = append(order, f.name)
				continue
			}
			switch {
			case p.kind != f.kind:
				return fmt.Errorf("stats: %s is a %s at %s and a %s at %s", f.name, p.kind, p.where, f.kind, w)
			case !slices.Equal(p.labels, ls):
				return fmt.Errorf("stats: %s has labels %v at %s and %v at %s", f.name, p.labels, p.where, ls, w)
			case f.help != "" && p.help != "" && f.help != p.help:
				return fmt.Errorf("stats: %s has two help texts (%s, %s)", f.name, p.where, w)
			case p.help == "":
				p.help = f.help
			}
		}
		return nil
	}
	if err := visit(s, t.Name()); err != nil {
		return nil, err
	}
	c := &Collector{snap: snap, descs: make(map[string]*metricDesc, len(protos))}
	declMu.Lock()
	defer declMu.Unlock()
	for _, name := range order {
		p := protos[name]
		if p.help == "" {
			return nil, fmt.Errorf("stats: %s (%s) has no help text", name, p.where)
		}
		c.descs[name] = &metricDesc{desc: prometheus.NewDesc(name, p.help, p.labels, nil), kind: p.kind, labels: p.labels}
		declared[name] = p.kind
	}
	return c, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
}

// Collect implements prometheus.Collector: one snapshot per scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	_ = Walk(c.snap(), func(s Sample) {
		d := c.descs[s.Name]
		vals := make([]string, len(d.labels))
		for i, l := range d.labels {
			vals[i] = s.Labels[l]
		}
		vt := prometheus.CounterValue
		if s.Kind == Gauge {
			vt = prometheus.GaugeValue
		}
		ch <- prometheus.MustNewConstMetric(d.desc, vt, s.Value, vals...)
	})
}

// Declared returns every metric name a Collector has been built for, with its kind.
func Declared() map[string]Kind {
	declMu.Lock()
	defer declMu.Unlock()
	return maps.Clone(declared)
}
