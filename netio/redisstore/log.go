package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// redisLog routes go-redis's own lines (Sentinel master changes, pool and cluster notices) into
// Herald's log at info, as component=go-redis, instead of go-redis's plain stderr logger.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(_ context.Context, format string, v ...any) {
	r.l.Info(fmt.Sprintf(format, v...))
}

var setLoggerOnce sync.Once

// useLogger makes l go-redis's logger. go-redis's logger is process-wide: the first store built
// with a Logger sets it (the binary builds one).
func useLogger(l *slog.Logger) {
	setLoggerOnce.Do(func() { redis.SetLogger(redisLog{l.With("component", "go-redis")}) })
}
