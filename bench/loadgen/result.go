package loadgen

// Schema names the JSON layout of Result; a change that breaks a reader gets a new version.
const Schema = "herald-bench/loadgen/v1"

// Result is the outcome of a run: one entry per step and the 1/s samples of the whole run. Its
// JSON is the loadgen CLI's -json output (doc.go explains every figure).
type Result struct {
	Schema    string         `json:"schema"`
	Transport string         `json:"transport"`
	Mix       map[string]int `json:"mix"`
	HoldS     float64        `json:"hold_s"`
	RampS     float64        `json:"ramp_s"`
	StepS     float64        `json:"step_s"`
	SoakS     float64        `json:"soak_s,omitempty"`
	// Stopped says why the sweep ended before its last step ("" when it ran them all).
	Stopped string `json:"stopped,omitempty"`
	// Ramp counts the calls made during the ramps (not in any step), so that failures while the
	// rate rises are not hidden; absent without ramps.
	Ramp    *Tally   `json:"ramp,omitempty"`
	Steps   []Step   `json:"steps"`
	Samples []Sample `json:"samples"`
}

// Step is what one step measured. Calls count in the step whose steady window they started in.
type Step struct {
	TargetCPS   float64          `json:"target_cps"`
	AchievedCPS float64          `json:"achieved_cps"`
	DurationS   float64          `json:"duration_s"`
	Attempted   int64            `json:"attempted"`
	Completed   int64            `json:"completed"`
	Failed      map[string]int64 `json:"failed"`
	// FailedExample holds, per cause, the error of the first call that failed with it (what the
	// terminals saw: "uesim: msrp dial 127.0.0.1:41235: ... connection refused").
	FailedExample map[string]string `json:"failed_example,omitempty"`
	ByMix         map[string]*Tally `json:"by_mix"`
	SetupMS       Latency           `json:"setup_ms"`
	PageMS        Latency           `json:"page_ms"`
	// PDDMS is the post-dial delay: INVITE sent to the first provisional above 100 (Herald's
	// forwarding and the callee's 18x; setup_ms also holds the ringing time).
	PDDMS Latency `json:"pdd_ms"`
	// SchedLagMS is how late the generator started calls against their open-loop schedule.
	SchedLagMS Latency `json:"sched_lag_ms"`
	RTP        RTP     `json:"rtp"`
	Herald     *Herald `json:"herald,omitempty"`
	Gen        Gen     `json:"gen"`
	Kernel     Kernel  `json:"kernel"`
	Clean      bool    `json:"clean"`
}

// Tally counts the calls of one mix kind.
type Tally struct {
	Attempted int64 `json:"attempted"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
}

// Latency is a distribution summary in milliseconds (HdrHistogram, 3 significant digits).
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// RTP sums the ringback streams of the step's completed ringback calls.
type RTP struct {
	Calls     int64   `json:"calls"`
	Expected  int64   `json:"expected"`
	Received  int64   `json:"received"`
	Lost      int64   `json:"lost"`
	Late      int64   `json:"late"`
	LateP99MS float64 `json:"late_p99_ms"`
	// Duplicates counts packets received twice (not counted in received).
	Duplicates int64 `json:"duplicates"`
}

// Herald is what /proc/<pid> (and /varz) said about Herald during the step.
type Herald struct {
	CPUMSPerCall  float64 `json:"cpu_ms_per_call"`
	CPUUtil       float64 `json:"cpu_util"` // cores busy, averaged over the step
	RSSPeakMB     float64 `json:"rss_peak_mb"`
	RSSEndMB      float64 `json:"rss_end_mb"`
	FDsEnd        int     `json:"fds_end"`
	GoroutinesEnd *int    `json:"goroutines_end,omitempty"`
}

// Gen is the generator's own cost during the step (getrusage on itself).
type Gen struct {
	CPUMSPerCall float64 `json:"cpu_ms_per_call"`
	CPUUtil      float64 `json:"cpu_util"`
}

// Kernel holds the step's deltas of the host's drop counters (/proc/net/snmp, /proc/net/netstat):
// they cover every socket of the network namespace, Herald's and the generator's.
type Kernel struct {
	UDPRcvbufErrors int64 `json:"udp_rcvbuf_errors"`
	UDPSndbufErrors int64 `json:"udp_sndbuf_errors"`
	TCPListenDrops  int64 `json:"tcp_listen_drops"`
}

// Sample is one 1/s sample of the run.
type Sample struct {
	TS         float64 `json:"t_s"`
	RSSMB      float64 `json:"rss_mb,omitempty"`
	FDs        int     `json:"fds,omitempty"`
	Goroutines int     `json:"goroutines,omitempty"`
	CPS        float64 `json:"cps"`
	InFlight   int64   `json:"in_flight"`
}
