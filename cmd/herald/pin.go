package main

import (
	"errors"
	"fmt"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/netio/cpu"
)

// rtpCPUs is the pinning of the RTP shards (cpu.rtp_shards): shard i on CPU [i % len]; nil = unpinned.
// config has already set rtp.shards to its length when rtp.shards was left out.
func rtpCPUs(o *config.Options) []int { return o.CPU.RTPShards }

// msrpCPUs is the pinning of the MSRP event loops (cpu.msrp_loops), one CPU per loop; nil = unpinned.
func msrpCPUs(o *config.Options) []int { return o.CPU.MSRPLoops }

// checkCPUs refuses, before anything starts, a configured CPU this process may not run on (config
// validation cannot know the machine): one error per list, naming the key, the CPU and the allowed set.
func checkCPUs(o *config.Options) error {
	var errs []error
	for _, l := range []struct {
		key  string
		cpus []int
	}{{"cpu.msrp_loops", msrpCPUs(o)}, {"cpu.rtp_shards", rtpCPUs(o)}} {
		if len(l.cpus) == 0 {
			continue
		}
		if err := cpu.Check(l.cpus); err != nil {
			errs = append(errs, fmt.Errorf("herald: %s: %w", l.key, err))
		}
	}
	return errors.Join(errs...)
}
