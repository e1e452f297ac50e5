package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/provision"
	"github.com/herald-ims/herald/core/store"
	"github.com/herald-ims/herald/netio/cpu"
)

// cmdCheck validates a config file the way serve would use it, short of binding sockets, and prints
// every problem on its own line as file:line:col: msg (to stderr), then "N problem(s)".
//
// Exit codes: 0 the file is good (stdout "FILE: ok"; warnings on stderr), 1 one or more problems,
// 2 usage error.
//
// Beyond the file's own syntax and rules (config.Parse), it does what serve does before it binds:
//   - host-dependent (skipped with hostIndependent, for checking a production file on a build
//     machine, where its paths and CPUs do not exist):
//   - every file the config names, read and parsed as serve loads it: the tls listeners' cert/key
//     pairs, msrp.tls_cert/tls_key (when msrp.tls_listen is set), http.admin_tls_cert/key (when
//     http.listen is set), sip.tls_client_cert/key (tls.LoadX509KeyPair), sip.tls_client_ca and
//     msrp.tls_client_ca (x509 pool append: at least one PEM certificate), http.admin_token_file
//     (at least one token), http.api.tokens_file (provision.ReadTokensFile), store.redis's
//     password_file and sentinel_password_file (readable), tls_ca and client pair, and the seed
//     directory (store.Import into a throw-away store: the profiles, the pages through the
//     sanitiser, the clips through core/media);
//   - data_dir, when it exists, must be a directory;
//   - cpu.msrp_loops and cpu.rtp_shards against the CPUs this process may run on (netio/cpu).
//   - always: the embedded seed (when seed is "") and the built-in ringback clip, loaded as serve loads them.
//
// A file that breaks Herald's rules but is valid YAML still gets these checks (config.LoadPartial),
// so one run lists them all; a problem the rules already reported at a place is not repeated. After a
// YAML syntax error only that error is reported.
//
// Each problem is placed at the key that names the file or CPU (a CPU list: the offending element);
// problems inside a seed directory at their own file:line:col there.
func cmdCheck(path string, hostIndependent bool, stdout, stderr io.Writer) int {
	if path == "" {
		fmt.Fprintln(stderr, "herald check: -c FILE is required")
		return 2
	}
	opts, probs, err := checkConfig(path, hostIndependent)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if opts != nil {
		for _, w := range opts.Warnings {
			fmt.Fprintln(stderr, "warning:", w.String())
		}
	}
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintln(stderr, p.String())
		}
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", path, len(probs))
		return 1
	}
	suffix := ""
	if hostIndependent {
		suffix = " (host-independent: files and CPUs not checked)"
	}
	fmt.Fprintf(stdout, "%s: ok%s\n", path, suffix)
	return 0
}

// checkConfig is what "herald check" and a SIGHUP reload run on a config file: its syntax and rules
// (config.LoadPartial), and, unless hostIndependent, the files it names and its CPU lists, then the
// seed and the built-in clips. It returns the options (nil after a syntax error) and every problem,
// sorted; err is set only when the file could not be read or parsed at all.
func checkConfig(path string, hostIndependent bool) (*config.Options, config.Errors, error) {
	// A file that breaks Herald's rules but is valid YAML is still checked for its files and CPUs:
	// every problem in one run. After a syntax error there is nothing to go on.
	opts, pos, err := config.LoadPartial(path)
	var parsed config.Errors
	if err != nil && (!errors.As(err, &parsed) || opts == nil) {
		if len(parsed) > 0 {
			return nil, parsed, nil
		}
		return nil, nil, err
	}
	c := &checker{o: opts, pos: pos}
	if !hostIndependent {
		c.files()
		c.cpus()
	}
	c.seed(hostIndependent)
	if _, err := loadClips(configs.Clips); err != nil {
		c.probs = append(c.probs, config.Problem{File: "embedded clips", Msg: err.Error(), Err: config.ErrFile})
	}
	c.merge(parsed)
	if len(c.probs) > 0 {
		c.sort()
	}
	return opts, c.probs, nil
}

type checker struct {
	o     *config.Options
	pos   config.Positions
	probs config.Errors
}

func (c *checker) add(path string, class error, format string, args ...any) {
	c.probs = append(c.probs, c.pos.Problem(path, class, format, args...))
}

// merge puts the file's own problems first in line, dropping a check's problem where the file's
// rules already reported one at the same place (a CPU number out of range, say).
func (c *checker) merge(parsed config.Errors) {
	at := make(map[[2]int]bool, len(parsed))
	for _, p := range parsed {
		at[[2]int{p.Line, p.Col}] = true
	}
	out := slices.Clone(parsed)
	for _, p := range c.probs {
		if p.File == c.pos.File && at[[2]int{p.Line, p.Col}] {
			continue
		}
		out = append(out, p)
	}
	c.probs = out
}

// sort orders the config file's problems by position, then the other files' (seed) by file and position.
func (c *checker) sort() {
	slices.SortStableFunc(c.probs, func(a, b config.Problem) int {
		ao, bo := a.File != c.pos.File, b.File != c.pos.File
		switch {
		case ao != bo:
			if ao {
				return 1
			}
			return -1
		case a.File != b.File:
			return strings.Compare(a.File, b.File)
		case a.Line != b.Line:
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
}

// files opens every file the configuration names, as serve will.
func (c *checker) files() {
	o := c.o
	for i, l := range o.SIP.Listen {
		if l.Transport == "tls" {
			p := fmt.Sprintf("sip.listen[%d]", i)
			c.keyPair(p+".cert", l.Cert, p+".key", l.Key)
		}
	}
	if o.SIP.TLSClientCert != "" || o.SIP.TLSClientKey != "" {
		c.keyPair("sip.tls_client_cert", o.SIP.TLSClientCert, "sip.tls_client_key", o.SIP.TLSClientKey)
	}
	c.caFile("sip.tls_client_ca", o.SIP.TLSClientCA)
	if o.MSRP.TLSListen != "" {
		c.keyPair("msrp.tls_cert", o.MSRP.TLSCert, "msrp.tls_key", o.MSRP.TLSKey)
	}
	c.caFile("msrp.tls_client_ca", o.MSRP.TLSClientCA)
	if o.HTTP.Listen != "" && o.HTTP.AdminTLSCert != "" {
		c.keyPair("http.admin_tls_cert", o.HTTP.AdminTLSCert, "http.admin_tls_key", o.HTTP.AdminTLSKey)
	}
	if f := o.HTTP.API.TokensFile; f != "" {
		if _, _, err := provision.ReadTokensFile(f); err != nil {
			c.add("http.api.tokens_file", config.ErrFile, "%v", err) // bad lines by number, never a token
		}
	}
	if r := o.Store.Redis; len(r.Addrs) > 0 {
		for _, f := range [][2]string{{"store.redis.password_file", r.PasswordFile}, {"store.redis.sentinel_password_file", r.SentinelPasswordFile}} {
			if f[1] == "" {
				continue
			}
			if _, err := os.ReadFile(f[1]); err != nil {
				c.add(f[0], config.ErrFile, "%v", err)
			}
		}
		c.caFile("store.redis.tls_ca", r.TLSCA)
		if r.TLSCert != "" || r.TLSKey != "" {
			c.keyPair("store.redis.tls_cert", r.TLSCert, "store.redis.tls_key", r.TLSKey)
		}
	}
	if f := o.HTTP.AdminTokenFile; f != "" && o.HTTP.AdminListen != "" {
		if _, err := adminTokens(o); err != nil {
			c.add("http.admin_token_file", config.ErrFile, "%v", err) // bad lines by number, never a token
		}
	}
	if fi, err := os.Stat(o.DataDir); err == nil && !fi.IsDir() {
		c.add("data_dir", config.ErrFile, "%s is not a directory", o.DataDir)
	}
}

// keyPair reads a certificate chain and its key as tls.LoadX509KeyPair does, placing a read error
// at the key naming the file that failed and a parse error at the file it concerns.
func (c *checker) keyPair(certKey, certFile, keyKey, keyFile string) {
	if certFile == "" || keyFile == "" {
		return // the file's rules require both (reported by config validation)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		c.add(certKey, config.ErrFile, "%v", err)
	}
	keyPEM, kerr := os.ReadFile(keyFile)
	if kerr != nil {
		c.add(keyKey, config.ErrFile, "%v", kerr)
	}
	if err != nil || kerr != nil {
		return
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		at, file := keyKey, keyFile
		if strings.Contains(err.Error(), "certificate input") {
			at, file = certKey, certFile
		}
		c.add(at, config.ErrFile, "%s: %v", file, err)
	}
}

// caFile reads a PEM CA bundle as core/tlsconf does: at least one certificate must parse.
func (c *checker) caFile(key, file string) {
	if file == "" {
		return
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		c.add(key, config.ErrFile, "%v", err)
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		c.add(key, config.ErrFile, "%s: no PEM certificate", file)
	}
}

// cpus checks each pinned CPU against the set this process may run on, at the list element.
func (c *checker) cpus() {
	for _, l := range []struct {
		key  string
		cpus []int
	}{{"cpu.msrp_loops", msrpCPUs(c.o)}, {"cpu.rtp_shards", rtpCPUs(c.o)}} {
		if len(l.cpus) == 0 {
			continue
		}
		allowed := cpu.Available()
		if len(allowed) == 0 {
			c.add(l.key, config.ErrHost, "%v", cpu.Check(l.cpus)) // pinning unsupported here
			continue
		}
		for i, n := range l.cpus {
			if _, ok := slices.BinarySearch(allowed, n); !ok {
				c.add(fmt.Sprintf("%s[%d]", l.key, i), config.ErrHost, "cpu %d is not one this process may run on (allowed %s)", n, cpu.Format(allowed))
			}
		}
	}
}

// seed loads the seed as serve does on an empty store (store.Import: profile.LoadSeed, pages through
// the sanitiser, clips through core/media) into a throw-away store. A seed directory is host
// dependent; the embedded seed is checked always.
func (c *checker) seed(hostIndependent bool) {
	var fsys fs.FS = configs.Seed
	name := "embedded seed"
	if c.o.Seed != "" {
		if hostIndependent {
			return
		}
		if _, err := os.Stat(filepath.Join(c.o.Seed, profile.SeedFile)); err != nil {
			c.add("seed", config.ErrFile, "%v", err)
			return
		}
		fsys, name = os.DirFS(c.o.Seed), c.o.Seed
	}
	tmp, err := os.MkdirTemp("", "herald-check-")
	if err != nil {
		c.add("seed", config.ErrFile, "throw-away store: %v", err)
		return
	}
	defer os.RemoveAll(tmp)
	st, err := store.Open(store.Options{Path: filepath.Join(tmp, store.FileName), GCInterval: -1})
	if err != nil {
		c.add("seed", config.ErrFile, "throw-away store: %v", err)
		return
	}
	defer st.Close()
	_, err = store.Import(context.Background(), st, fsys)
	if err == nil {
		return
	}
	var ps config.Errors
	if !errors.As(err, &ps) {
		c.add("seed", config.ErrFile, "%s: %v", name, err)
		return
	}
	for _, p := range ps {
		p.File = filepath.Join(name, p.File) // profiles.yaml is relative to the seed directory
		c.probs = append(c.probs, p)
	}
}
