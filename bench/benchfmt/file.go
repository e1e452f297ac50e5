package benchfmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Schema is the value of File.Schema.
const Schema = "herald-bench/v1"

// Roles of a Target.
const (
	RoleHerald   = "herald"
	RoleBaseline = "baseline"
)

// File is one plane's results.
type File struct {
	Schema    string    `json:"schema"`
	Plane     string    `json:"plane"` // sip, msrp, rtp, call
	Machine   Machine   `json:"machine"`
	GoVersion string    `json:"go_version"`
	Git       Git       `json:"git"`
	Start     time.Time `json:"start"`
	// DurationS is the wall time of the plane's run in seconds.
	DurationS float64 `json:"duration_s"`
	// LoadBefore and LoadAfter are /proc/loadavg's 1, 5 and 15 minute figures: other work on the
	// host shows here, and a figure taken under load is noisy.
	LoadBefore [3]float64 `json:"loadavg_before"`
	LoadAfter  [3]float64 `json:"loadavg_after"`
	// Command is the exact command that produced the file (bench/run's when it ran the plane), and
	// ToolCommand the plane tool's own command line under it ("" when the tool was run by hand).
	Command     string   `json:"command"`
	ToolCommand string   `json:"tool_command,omitempty"`
	Targets     []Target `json:"targets"`
	// Notes are remarks of the run, e.g. a noisy machine or a target that could not run.
	Notes []string `json:"notes,omitempty"`
}

// Machine describes the host.
type Machine struct {
	CPUModel   string `json:"cpu_model"`
	Cores      int    `json:"cores"` // logical CPUs (runtime.NumCPU: the affinity mask)
	GOMAXPROCS int    `json:"gomaxprocs"`
	MemoryMB   int64  `json:"memory_mb"`
	Kernel     string `json:"kernel"`
	Arch       string `json:"arch"`
}

// Git is the commit the binaries were built from.
type Git struct {
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty"`
}

// Target is one system under test in a plane's run: Herald, or a baseline it is compared with.
type Target struct {
	Name  string `json:"name"`  // e.g. herald-plain, kamailio-plain, baseline
	Role  string `json:"role"`  // RoleHerald or RoleBaseline
	Label string `json:"label"` // what it is, for a reader
	// LoadUnit is what Step.Load counts: "calls/s", "terminals", "streams".
	LoadUnit string `json:"load_unit"`
	Steps    []Step `json:"steps"`
	// Summary holds figures of the whole target rather than one step (max clean rate, medians).
	Summary map[string]float64 `json:"summary,omitempty"`
	// Samples are periodic readings over the whole run (e.g. 1/s: t_s, rss_mb, fds, goroutines),
	// for the soak's flatness.
	Samples []map[string]float64 `json:"samples,omitempty"`
	Error   string               `json:"error,omitempty"` // why the target did not (fully) run
}

// Step is one load level.
type Step struct {
	Load  float64 `json:"load"`
	Clean bool    `json:"clean"` // no failure by the plane's own criterion
	// M are the step's measurements by metric name.
	M map[string]float64 `json:"m"`
	// Failed counts failed calls/deliveries by cause, where the tool tells causes apart.
	Failed map[string]int64 `json:"failed,omitempty"`
}

// New starts a File for plane with the host's description, the Go version, the commit of the
// working tree at dir ("" = the current directory) and the load average now.
func New(plane, dir string, argv []string) *File {
	return &File{Schema: Schema, Plane: plane, Machine: ThisMachine(), GoVersion: runtime.Version(),
		Git: GitState(dir), Start: time.Now().UTC().Truncate(time.Second), LoadBefore: LoadAvg(),
		Command: Quote(argv)}
}

// Finish records the end: duration and load average.
func (f *File) Finish() {
	f.DurationS = round(time.Since(f.Start).Seconds(), 1)
	f.LoadAfter = LoadAvg()
}

// Target returns the target named name, nil if there is none.
func (f *File) Target(name string) *Target {
	for i := range f.Targets {
		if f.Targets[i].Name == name {
			return &f.Targets[i]
		}
	}
	return nil
}

// Encode writes f as indented JSON.
func (f *File) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// WriteFile writes f to path.
func (f *File) WriteFile(path string) error {
	var b bytes.Buffer
	if err := f.Encode(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// Decode reads one File and checks its schema.
func Decode(r io.Reader) (*File, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	if f.Schema != Schema {
		return nil, fmt.Errorf("%w: schema %q", ErrSchema, f.Schema)
	}
	if f.Plane == "" {
		return nil, fmt.Errorf("%w: no plane", ErrSchema)
	}
	for _, t := range f.Targets {
		if t.Role != RoleHerald && t.Role != RoleBaseline {
			return nil, fmt.Errorf("%w: target %q: role %q", ErrSchema, t.Name, t.Role)
		}
	}
	return &f, nil
}

// ReadFile decodes the File at path.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := Decode(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Quote renders argv as one shell command line (single quotes where needed).
func Quote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+%$") == "" {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}

// LoadAvg is /proc/loadavg's 1, 5 and 15 minute figures (zeros where unreadable).
func LoadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

// ThisMachine describes the host from /proc (Linux) and the runtime.
func ThisMachine() Machine {
	m := Machine{CPUModel: runtime.GOARCH, Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Arch: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemoryMB = kb >> 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// GitState is the commit checked out at dir and whether tracked files differ from it; Commit is
// "unknown" outside a work tree or without git.
func GitState(dir string) Git {
	g := Git{Commit: "unknown"}
	rev := exec.Command("git", "rev-parse", "HEAD")
	rev.Dir = dir
	out, err := rev.Output()
	if err != nil {
		return g
	}
	g.Commit = strings.TrimSpace(string(out))
	st := exec.Command("git", "status", "--porcelain", "--untracked-files=no")
	st.Dir = dir
	if out, err := st.Output(); err == nil {
		g.Dirty = len(bytes.TrimSpace(out)) > 0
	}
	return g
}

// round rounds x to n decimals.
func round(x float64, n int) float64 {
	p := 1.0
	for range n {
		p *= 10
	}
	if x < 0 {
		return float64(int64(x*p-0.5)) / p
	}
	return float64(int64(x*p+0.5)) / p
}

// Round rounds x to n decimals (for measurements: JSON without float noise).
func Round(x float64, n int) float64 { return round(x, n) }
