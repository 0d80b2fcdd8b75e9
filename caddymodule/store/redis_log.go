package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// libraryLogEvery is how often the same go-redis line is logged at most: during an outage
// go-redis repeats its dial failure for every connection attempt, several times a second.
const libraryLogEvery = 10 * time.Second

// routeLibraryLog sends go-redis's own log lines (connection pool dial failures, pub/sub
// reconnections, Sentinel and Cluster topology changes) to log at Warn level, each distinct
// line at most once per libraryLogEvery, instead of the standard library's logger on stderr,
// where a JSON log pipeline would not parse them. go-redis has one logger per process, so the
// last store opened decides where they go; a nil log leaves go-redis as it is.
func routeLibraryLog(log *zap.Logger) {
	if log == nil {
		return
	}
	sampled := log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, libraryLogEvery, 1, 0)
	}))
	redis.SetLogger(libraryLogger{sampled})
}

// libraryLogger adapts zap to go-redis's logging interface.
type libraryLogger struct{ l *zap.Logger }

// Printf logs one go-redis line, without the "redis: " prefix go-redis repeats inside it.
func (g libraryLogger) Printf(_ context.Context, format string, v ...any) {
	g.l.Warn(strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}
