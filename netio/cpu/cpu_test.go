//go:build linux

package cpu

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// IgnoreCurrent: importing gnet starts its package-level ants pool goroutines at init.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

// allowedList reads Cpus_allowed_list of thread tid from /proc (independent of sched_getaffinity).
func allowedList(t *testing.T, tid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list for thread %d", tid)
	return ""
}

// onLockedThread runs f on a fresh goroutine locked to its thread; the goroutine exits locked, so the
// thread dies with it whatever f did to its mask.
func onLockedThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		f()
	}()
	<-done
}

func TestAvailable(t *testing.T) {
	a := Available()
	if len(a) != runtime.NumCPU() || !slices.IsSorted(a) {
		t.Fatalf("Available() = %v, runtime.NumCPU() = %d", a, runtime.NumCPU())
	}
	a[0] = -5 // a copy: the package's set is not aliased
	if Available()[0] == -5 {
		t.Error("Available returns its internal slice")
	}
}

// Pinning the calling thread to each allowed CPU in turn: sched_getaffinity and /proc agree on
// exactly that CPU, and restore gives the old mask back.
func TestPin(t *testing.T) {
	for _, c := range Available() {
		t.Run("cpu="+strconv.Itoa(c), func(t *testing.T) {
			onLockedThread(func() {
				before, err := Affinity(0)
				if err != nil {
					t.Error(err)
					return
				}
				restore, err := Pin([]int{c})
				if err != nil {
					t.Error(err)
					return
				}
				got, err := Affinity(0)
				if err != nil || !slices.Equal(got, []int{c}) {
					t.Errorf("after Pin(%d): affinity %v, %v", c, got, err)
				}
				if s := allowedList(t, Tid()); s != strconv.Itoa(c) {
					t.Errorf("after Pin(%d): Cpus_allowed_list %q", c, s)
				}
				if err := restore(); err != nil {
					t.Error(err)
				}
				if got, _ := Affinity(0); !slices.Equal(got, before) {
					t.Errorf("after restore: affinity %v, want %v", got, before)
				}
			})
		})
	}
}

func TestPinAll(t *testing.T) {
	onLockedThread(func() {
		a := Available()
		restore, err := Pin(a)
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { _ = restore() }()
		if got, _ := Affinity(0); !slices.Equal(got, a) {
			t.Errorf("affinity %v, want %v", got, a)
		}
	})
}

// A CPU outside the allowed set is refused with ErrNotAllowed, the error names the CPU and the
// allowed set, and the thread's mask is left alone.
func TestPinRefused(t *testing.T) {
	a := Available()
	outside := a[len(a)-1] + 1
	tests := map[string]struct {
		cpus []int
		want error
		msg  string
	}{
		"empty":        {nil, ErrEmpty, "empty cpu list"},
		"next cpu":     {[]int{outside}, ErrNotAllowed, "cpu " + strconv.Itoa(outside) + " (allowed " + Format(a) + ")"},
		"one of two":   {[]int{a[0], outside}, ErrNotAllowed, "cpu " + strconv.Itoa(outside) + " "},
		"beyond mask":  {[]int{4095}, ErrNotAllowed, "cpu 4095 "},
		"negative cpu": {[]int{-1}, ErrNotAllowed, "cpu -1 "},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			onLockedThread(func() {
				before, _ := Affinity(0)
				restore, err := Pin(tc.cpus)
				if !errors.Is(err, tc.want) || restore != nil {
					t.Errorf("Pin(%v) = %v, want %v", tc.cpus, err, tc.want)
					return
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %q does not contain %q", err, tc.msg)
				}
				if got, _ := Affinity(0); !slices.Equal(got, before) {
					t.Errorf("mask changed by a refused Pin: %v, was %v", got, before)
				}
			})
			if _, err := NewLoopPinner(tc.cpus); !errors.Is(err, tc.want) {
				t.Errorf("NewLoopPinner(%v) = %v, want %v", tc.cpus, err, tc.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := map[string]struct {
		in   []int
		want string
	}{
		"empty":    {nil, ""},
		"one":      {[]int{3}, "3"},
		"range":    {[]int{0, 1, 2, 3}, "0-3"},
		"mixed":    {[]int{6, 0, 1, 2, 3, 9, 10}, "0-3,6,9-10"},
		"pair":     {[]int{0, 1}, "0-1"},
		"unsorted": {[]int{5, 1, 5, 3}, "1,3,5"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Format(tc.in); got != tc.want {
				t.Errorf("Format(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// retired waits until thread tid has left /proc/self/task (the runtime ended it). The main thread is
// the exception: the runtime parks it for good instead (mexit), which also keeps it from running
// goroutines again.
func retired(tid int, within time.Duration) bool {
	if tid == os.Getpid() {
		return true
	}
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid)); errors.Is(err, os.ErrNotExist) {
			return true
		}
	}
	return false
}

// Three "loops" share a pinner over the allowed CPUs: each thread is pinned once (repeat calls are
// no-ops), gets the CPU the pinner recorded, the CPUs go round the list, and each pinned thread is
// terminated when its goroutine exits even though the goroutine unlocked its own lock, as gnet does.
func TestLoopPinner(t *testing.T) {
	a := Available()
	l, err := NewLoopPinner(a)
	if err != nil {
		t.Fatal(err)
	}
	const loops = 3
	type seen struct {
		tid  int
		mask []int
	}
	res := make([]seen, loops)
	var wg sync.WaitGroup
	for i := range loops {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread() // gnet's WithLockOSThread does this
			for range 3 {
				if err := l.Pin(); err != nil {
					t.Error(err)
				}
			}
			m, _ := Affinity(0)
			res[i] = seen{Tid(), m}
		})
	}
	wg.Wait()
	pinned := l.Pinned()
	if len(pinned) != loops {
		t.Fatalf("pinned %v, want %d threads", pinned, loops)
	}
	var got []int
	for _, r := range res {
		c, ok := pinned[r.tid]
		if !ok || !slices.Equal(r.mask, []int{c}) {
			t.Errorf("thread %d: mask %v, pinner says %d (%v)", r.tid, r.mask, c, ok)
		}
		got = append(got, c)
		if !retired(r.tid, 2*time.Second) {
			t.Errorf("pinned thread %d still alive after its goroutine exited", r.tid)
		}
	}
	var want []int
	for i := range loops {
		want = append(want, a[i%len(a)])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("CPUs given %v, want %v", got, want)
	}
}
