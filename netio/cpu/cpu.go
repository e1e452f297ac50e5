package cpu

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Check reports whether every CPU of cpus is in Available: nil, ErrEmpty, or ErrNotAllowed naming
// the first CPU outside the set and the allowed set.
func Check(cpus []int) error {
	if len(cpus) == 0 {
		return ErrEmpty
	}
	allowed := Available()
	if len(allowed) == 0 { // Linux: sched_getaffinity failed at start; elsewhere ErrUnsupported
		if startErr == nil {
			return ErrUnsupported
		}
		return startErr
	}
	for _, c := range cpus {
		if _, ok := slices.BinarySearch(allowed, c); !ok {
			return fmt.Errorf("%w: cpu %d (allowed %s)", ErrNotAllowed, c, Format(allowed))
		}
	}
	return nil
}

// Format writes a CPU list the way the kernel prints Cpus_allowed_list: sorted, ranges collapsed,
// e.g. "0-3,6".
func Format(cpus []int) string {
	s := slices.Clone(cpus)
	slices.Sort(s)
	s = slices.Compact(s)
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(s[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(s[j]))
		}
		i = j + 1
	}
	return b.String()
}
