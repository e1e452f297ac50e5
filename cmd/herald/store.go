package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/store"
	"github.com/herald-ims/herald/netio/redisstore"
)

// openStore opens data_dir/herald.db (creating it), imports the seed when it holds no subscriber,
// and builds the call path's index over it. An empty DataDir (set only by the demo and tests: the
// config file validation refuses it) means a temporary directory that cleanup removes.
func openStore(o *config.Options, log *slog.Logger) (st *store.Bolt, live *store.Live, cleanup func(), err error) {
	if len(o.Store.Redis.Addrs) > 0 {
		panic("openStore: store.redis is opened by openRedisStore")
	}
	dir := o.DataDir
	cleanup = func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "herald-data-"); err != nil {
			return nil, nil, nil, fmt.Errorf("herald: data dir: %w", err)
		}
		cleanup = func() { _ = os.RemoveAll(dir) }
	}
	fail := func(e error) (*store.Bolt, *store.Live, func(), error) {
		if st != nil {
			_ = st.Close()
		}
		cleanup()
		return nil, nil, nil, e
	}
	st, err = store.Open(store.Options{
		Path:       filepath.Join(dir, store.FileName),
		GCGrace:    time.Duration(o.Store.GCGrace),
		GCInterval: time.Duration(o.Store.GCInterval),
		Logger:     log.With("component", "core/store"),
	})
	if err != nil {
		return fail(fmt.Errorf("herald: %w", err))
	}
	ctx := context.Background()
	n, err := st.Count(ctx)
	if err != nil {
		return fail(fmt.Errorf("herald: %w", err))
	}
	if n == 0 {
		seed, name := configs.Seed, "embedded seed"
		if o.Seed != "" {
			seed, name = os.DirFS(o.Seed), o.Seed
		}
		m, err := store.Import(ctx, st, seed)
		if err != nil {
			return fail(fmt.Errorf("herald: seed: %w", err))
		}
		log.Info("store created from seed", "seed", name, "subscribers", m, "file", st.Path())
	}
	live, err = store.NewLive(st, store.LiveOptions{
		CacheBytes: int64(o.Store.CacheMB) << 20,
		MissLoads:  o.Store.MissLoads,
		Logger:     log.With("component", "core/store"),
	})
	if err != nil {
		return fail(fmt.Errorf("herald: %w", err))
	}
	return st, live, cleanup, nil
}

// openRedisStore connects to the Redis deployment of store.redis (netio/redisstore), builds the
// call path's index from it (waiting up to redisStartWait for Redis; without it the node starts
// with no subscribers, not ready, and fills its index once Redis answers) and imports the seed
// when Redis holds no subscriber.
func openRedisStore(o *config.Options, log *slog.Logger) (*redisstore.Store, *store.Live, error) {
	opts, err := redisOptions(o)
	if err != nil {
		return nil, nil, err
	}
	opts.Logger = log // the store adds component=netio/redisstore itself
	rs, err := redisstore.New(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("herald: %w", err)
	}
	live := rs.OpenLive(store.LiveOptions{
		CacheBytes: int64(o.Store.CacheMB) << 20,
		MissLoads:  o.Store.MissLoads,
		Logger:     log.With("component", "core/store"),
	}, redisStartWait)
	if !rs.Available() {
		return rs, live, nil
	}
	ctx := context.Background()
	n, err := rs.Count(ctx)
	if err == nil && n == 0 {
		seed, name := configs.Seed, "embedded seed"
		if o.Seed != "" {
			seed, name = os.DirFS(o.Seed), o.Seed
		}
		m, err := store.Import(ctx, rs, seed)
		if err != nil {
			_ = rs.Close()
			return nil, nil, fmt.Errorf("herald: seed: %w", err)
		}
		log.Info("redis store filled from seed", "seed", name, "subscribers", m)
	}
	return rs, live, nil
}

// redisOptions turns store.redis into the Redis store's options, reading the password files and
// the TLS files.
func redisOptions(o *config.Options) (redisstore.Options, error) {
	r := o.Store.Redis
	opts := redisstore.Options{
		Addrs: r.Addrs, MasterName: r.MasterName, Cluster: r.Cluster, DB: r.DB,
		Username: r.Username, SentinelUsername: r.SentinelUsername,
		Timeout: r.Timeout.D(), Prefix: r.Prefix,
		GCGrace: o.Store.GCGrace.D(), GCInterval: o.Store.GCInterval.D(),
	}
	var err error
	if opts.Password, err = redisPassword("store.redis.password_file", r.PasswordFile); err != nil {
		return opts, err
	}
	if opts.SentinelPassword, err = redisPassword("store.redis.sentinel_password_file", r.SentinelPasswordFile); err != nil {
		return opts, err
	}
	if r.TLS {
		tc, err := redisTLS(r)
		if err != nil {
			return opts, err
		}
		opts.TLS = tc
	}
	return opts, nil
}

// redisPassword reads a password file of store.redis (key names it in the error): its one line
// without the line end; "" when file is "".
func redisPassword(key, file string) (string, error) {
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("herald: %s: %w", key, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// redisStartWait bounds how long a starting node waits for Redis before it serves without
// subscribers (calls proxied plainly) and keeps trying in the background.
const redisStartWait = 5 * time.Second

// redisTLS builds the client TLS configuration of store.redis.tls*.
func redisTLS(r config.RedisOptions) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: r.TLSInsecure} //nolint:gosec // tls_insecure is a warned lab option
	if r.TLSCA != "" {
		pem, err := os.ReadFile(r.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("herald: store.redis.tls_ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("herald: store.redis.tls_ca: %s: no PEM certificate", r.TLSCA)
		}
	}
	if r.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(r.TLSCert, r.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("herald: store.redis.tls_cert: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// cmdImport imports a seed directory into the store of the configuration's data_dir: each seed
// subscriber replaces the record whose ID is its primary identity (or derived from it, when the
// identity cannot be an ID: store.Import). Run it while Herald is stopped
// (the store file is locked by a running instance).
func cmdImport(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("import", flag.ContinueOnError)
	fset.SetOutput(stderr)
	cfg := fset.String("c", "", "config file (default: embedded)")
	fset.StringVar(cfg, "config", "", "same as -c")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if fset.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: herald import [-c FILE] DIR")
		return 2
	}
	var (
		o   *config.Options
		err error
	)
	if *cfg == "" {
		o, err = config.Default()
	} else {
		o, err = config.Load(*cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	dir := fset.Arg(0)
	if _, err := os.Stat(filepath.Join(dir, "profiles.yaml")); err != nil {
		fmt.Fprintln(stderr, "herald import:", err)
		return 1
	}
	var (
		st    store.Store
		where string
	)
	if r := o.Store.Redis; len(r.Addrs) > 0 {
		// A fleet's store: written through Redis while the nodes run; each node's index follows.
		ro, err := redisOptions(o)
		var rs *redisstore.Store
		if err == nil {
			ro.GCInterval = -1
			rs, err = redisstore.New(ro)
		}
		if err != nil {
			fmt.Fprintln(stderr, "herald import:", err)
			return 1
		}
		st, where = rs, "redis "+strings.Join(r.Addrs, ",")
	} else {
		b, err := store.Open(store.Options{Path: filepath.Join(o.DataDir, store.FileName), GCInterval: -1})
		if err != nil {
			fmt.Fprintln(stderr, "herald import:", err)
			return 1
		}
		st, where = b, b.Path()
	}
	defer st.Close()
	n, err := store.Import(context.Background(), st, os.DirFS(dir))
	if err != nil {
		fmt.Fprintf(stderr, "herald import: %d written before: %v\n", n, err)
		return 1
	}
	fmt.Fprintf(stdout, "herald import: %d subscribers from %s into %s\n", n, dir, where)
	return 0
}
