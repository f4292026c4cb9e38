package memory

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// warnInterval is how often one kind of memory warning is logged at warn
// level; repeats in between are logged at debug. A misconfigured model or
// an outage would otherwise log once per chat turn.
const warnInterval = time.Minute

// warner throttles warnings by message.
type warner struct {
	logger *zap.Logger
	mu     sync.Mutex
	last   map[string]time.Time
}

func newWarner(logger *zap.Logger) *warner {
	return &warner{logger: logger, last: make(map[string]time.Time)}
}

// warn logs msg at warn level, or at debug level when the same message was
// logged at warn level less than warnInterval ago.
func (w *warner) warn(msg string, fields ...zap.Field) {
	now := time.Now()
	w.mu.Lock()
	quiet := now.Sub(w.last[msg]) < warnInterval
	if !quiet {
		w.last[msg] = now
	}
	w.mu.Unlock()
	if quiet {
		w.logger.Debug(msg, fields...)
		return
	}
	w.logger.Warn(msg, fields...)
}
