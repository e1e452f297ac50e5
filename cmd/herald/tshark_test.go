package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/config"
)

func TestExploreCapture(t *testing.T) {
	if os.Getenv("H7_EXPLORE") == "" {
		t.Skip("explore")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	file := filepath.Join(t.TempDir(), "cap.pcapng")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tshark", "-i", "lo", "-f", "port "+strconv.Itoa(port), "-w", file, "-P", "-l")
	stderr, _ := cmd.StderrPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Start()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log("E:", sc.Text())
			if strings.Contains(sc.Text(), "Capturing on") {
				close(ready)
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			t.Log("O:", sc.Text())
		}
	}()
	<-ready
	_, err := runDemoCall(ctx, demoOptions{From: "sip:alice@home1.net", To: "tel:+1-212-555-2222",
		Configure: func(o *config.Options) { o.MSRP.Listen = "127.0.0.1:" + strconv.Itoa(port) }})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(port))
	c.Write([]byte("herald-sentinel"))
	c.Close()
	time.Sleep(time.Second)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	b, _ := os.ReadFile(file)
	os.WriteFile("/tmp/h7/cap.pcapng", b, 0o644)
	t.Log("port", port)
}
