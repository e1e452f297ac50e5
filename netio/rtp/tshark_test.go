package rtp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/media"
)

func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s not installed and HERALD_REQUIRE_PEERS=1", name)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// tshark's RTP analysis of a captured ringback stream: no sequence errors or lost packets, the
// negotiated payload type, 20 ms deltas, and the payload bytes (the G.711 audio) equal to the clip.
func TestTsharkG711(t *testing.T) {
	tshark := needTool(t, "tshark")
	if testing.Short() {
		t.Skip("tshark capture skipped in -short")
	}
	wav, err := os.ReadFile("../../configs/clips/ringback-8k.wav")
	if err != nil {
		t.Fatal(err)
	}
	clip := &media.Clip{}
	if err := clip.LoadWAV(wav); err != nil {
		t.Fatal(err)
	}
	p := startPlane(t, Options{})
	rx := listen(t)
	port := addrOf(rx).Port()
	file := filepath.Join(t.TempDir(), "rtp.pcap")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	capture := exec.CommandContext(ctx, tshark, "-i", "lo", "-f", "udp port "+strconv.Itoa(int(port)), "-w", file)
	stderr, _ := capture.StderrPipe()
	if err := capture.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Capturing on") {
				close(ready)
				break
			}
		}
		for sc.Scan() { // keep draining
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("tshark did not start capturing")
	}
	time.Sleep(200 * time.Millisecond)

	const n = 60 // 1.2 s: more than a third of the 3 s clip
	go func() {  // drain the receiver so the kernel never drops
		buf := make([]byte, 2048)
		for {
			if _, err := rx.Read(buf); err != nil {
				return
			}
		}
	}()
	s, _ := p.Allocate()
	if err := s.Play(addrOf(rx), media.Track{Packets: clip.PCMA, PayloadType: 8}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(n*20*time.Millisecond + 10*time.Millisecond)
	s.Stop()
	time.Sleep(300 * time.Millisecond)
	_ = capture.Process.Signal(os.Interrupt)
	_ = capture.Wait()

	decode := "udp.port==" + strconv.Itoa(int(port)) + ",rtp"
	out, err := exec.CommandContext(ctx, tshark, "-r", file, "-d", decode, "-q", "-z", "rtp,streams").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark analysis: %v\n%s", err, out)
	}
	t.Logf("tshark rtp,streams:\n%s", out)
	var row string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, " 0x") {
			row = l
		}
	}
	// Start End SrcIP SrcPort DstIP DstPort SSRC Payload Pkts Lost (pct) MinΔ MeanΔ MaxΔ MinJ MeanJ MaxJ [Problems?]
	f := strings.Fields(row)
	if len(f) < 17 || f[7] != "g711A" {
		t.Fatalf("no single PCMA (g711A) stream in the analysis: %q", row)
	}
	pktIdx := 8
	pkts, _ := strconv.Atoi(f[pktIdx])
	lost := f[pktIdx+1]
	meanDelta, _ := strconv.ParseFloat(f[pktIdx+4], 64)
	if sent := p.Stats().Packets; pkts < n-1 || uint64(pkts) != sent || lost != "0" {
		t.Errorf("tshark: %d packets (plane sent %d), lost %s, row %q", pkts, sent, lost, row)
	}
	if len(f) > 17 {
		t.Errorf("tshark reports problems: %v", f[17:])
	}
	within(t, "mean packet spacing", time.Duration(meanDelta*float64(time.Millisecond)), 19*time.Millisecond, 21*time.Millisecond)

	// The captured payloads, in order, are the clip's PCMA bytes.
	out, err = exec.CommandContext(ctx, tshark, "-r", file, "-d", decode, "-T", "fields", "-e", "rtp.seq",
		"-e", "rtp.timestamp", "-e", "rtp.p_type", "-e", "rtp.payload").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var audio []byte
	var ts0 uint64
	for i, l := range lines {
		col := strings.Split(l, "\t")
		if len(col) != 4 || col[2] != "8" {
			t.Fatalf("line %d: %q", i, l)
		}
		ts, _ := strconv.ParseUint(col[1], 10, 32)
		if i == 0 {
			ts0 = ts
		} else if uint32(ts-ts0) != uint32(160*i) {
			t.Errorf("packet %d: timestamp +%d, want +%d", i, ts-ts0, 160*i)
		}
		b, err := hex.DecodeString(strings.ReplaceAll(col[3], ":", ""))
		if err != nil {
			t.Fatal(err)
		}
		audio = append(audio, b...)
	}
	var want []byte
	for _, fr := range clip.PCMA.Frames {
		want = append(want, fr.Payload...)
	}
	if len(audio) < 160*(n-1) || !bytes.Equal(audio, want[:len(audio)]) {
		t.Errorf("captured audio (%d bytes) differs from the clip", len(audio))
	}
}
