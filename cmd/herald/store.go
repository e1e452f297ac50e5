package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/store"
)

// openStore opens data_dir/herald.db (creating it), imports the seed when it holds no subscriber,
// and builds the call path's index over it. An empty DataDir (set only by the demo and tests: the
// config file validation refuses it) means a temporary directory that cleanup removes.
func openStore(o *config.Options, log *slog.Logger) (st *store.Bolt, live *store.Live, cleanup func(), err error) {
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

// cmdImport imports a seed directory into the store of the configuration's data_dir: each seed
// subscriber replaces the record whose ID is its primary identity. Run it while Herald is stopped
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
	st, err := store.Open(store.Options{Path: filepath.Join(o.DataDir, store.FileName), GCInterval: -1})
	if err != nil {
		fmt.Fprintln(stderr, "herald import:", err)
		return 1
	}
	defer st.Close()
	n, err := store.Import(context.Background(), st, os.DirFS(dir))
	if err != nil {
		fmt.Fprintf(stderr, "herald import: %d written before: %v\n", n, err)
		return 1
	}
	fmt.Fprintf(stdout, "herald import: %d subscribers from %s into %s\n", n, dir, st.Path())
	return 0
}
