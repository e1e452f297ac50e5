package main

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/netio/cpu"
)

func TestCheckCPUs(t *testing.T) {
	a := cpu.Available()
	if len(a) == 0 {
		t.Skip("cpu pinning unsupported on this platform")
	}
	outside := a[len(a)-1] + 1
	tests := map[string]struct {
		cpu  config.CPUOptions
		want []string // substrings of the error; none = no error
	}{
		"unpinned": {config.CPUOptions{}, nil},
		"allowed":  {config.CPUOptions{MSRPLoops: a[:1], RTPShards: a}, nil},
		"rtp outside": {config.CPUOptions{MSRPLoops: a[:1], RTPShards: []int{outside}},
			[]string{"herald: cpu.rtp_shards: netio/cpu: cpu not in the allowed set: cpu " + strconv.Itoa(outside) + " (allowed " + cpu.Format(a) + ")"}},
		"both outside": {config.CPUOptions{MSRPLoops: []int{a[0], outside}, RTPShards: []int{outside + 1}},
			[]string{"cpu.msrp_loops: ", "cpu " + strconv.Itoa(outside) + " ", "cpu.rtp_shards: ", "cpu " + strconv.Itoa(outside+1) + " "}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := &config.Options{CPU: tc.cpu}
			err := checkCPUs(o)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, cpu.ErrNotAllowed) {
				t.Fatalf("err = %v, want cpu.ErrNotAllowed", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if o := (&config.Options{CPU: config.CPUOptions{MSRPLoops: []int{1}, RTPShards: []int{0, 1}}}); len(rtpCPUs(o)) != 2 || msrpCPUs(o)[0] != 1 {
		t.Errorf("rtpCPUs %v msrpCPUs %v", rtpCPUs(o), msrpCPUs(o))
	}
}
