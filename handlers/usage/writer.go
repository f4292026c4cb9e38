package usage

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/store"
)

// Defaults of WriterConfig.
const (
	DefaultFlushInterval      = time.Second
	DefaultMaxBuffer          = 100_000
	DefaultMaxBatch           = 1000
	DefaultDropLogInterval    = 10 * time.Second
	DefaultRetentionInterval  = time.Hour
	DefaultCloseTimeout       = 5 * time.Second
	DefaultRecordRetention    = 90 * 24 * time.Hour
	DefaultAggregateRetention = 400 * 24 * time.Hour
)

// WriterConfig configures a Writer.
type WriterConfig struct {
	// Store receives the records. Required.
	Store store.UsageStore
	// FlushInterval is how often buffered records are written (default 1s).
	FlushInterval time.Duration
	// MaxBuffer bounds the records waiting to be written (default 100000):
	// while the database is down, one more is dropped and counted.
	MaxBuffer int
	// MaxBatch bounds the records of one insert (default 1000).
	MaxBatch int
	// RecordRetention is how long records are kept (default 90 days);
	// AggregateRetention how long their hourly aggregates are (default 400
	// days). Negative keeps them for ever.
	RecordRetention    time.Duration
	AggregateRetention time.Duration
	// RetentionInterval is how often retention runs (default 1h); one
	// replica at a time deletes (see store.UsageStore.PurgeUsage).
	RetentionInterval time.Duration
	// Logger receives write failures and drops, at most one line per
	// DropLogInterval (default 10s) for each.
	Logger          *zap.Logger
	DropLogInterval time.Duration
	// OnBatch, when set, is called after every write with the number of
	// records, how long it took, and its error.
	OnBatch func(n int, took time.Duration, err error)
	// OnDrop, when set, is called with the number of records dropped.
	OnDrop func(n int)
}

// Writer buffers usage records and writes them in batches from one
// goroutine. Add never blocks and never does I/O: the request path only
// appends to a slice under a mutex.
type Writer struct {
	cfg  WriterConfig
	mu   sync.Mutex
	buf  []store.UsageRecord // oldest first; only run removes from the front
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	dropped     atomic.Int64 // since the last drop log line
	lastDropLog atomic.Int64
	lastErrLog  time.Time // run's only
}

// NewWriter starts a writer; Close stops it.
func NewWriter(cfg WriterConfig) *Writer {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.MaxBuffer <= 0 {
		cfg.MaxBuffer = DefaultMaxBuffer
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.RecordRetention == 0 {
		cfg.RecordRetention = DefaultRecordRetention
	}
	if cfg.AggregateRetention == 0 {
		cfg.AggregateRetention = DefaultAggregateRetention
	}
	if cfg.RetentionInterval <= 0 {
		cfg.RetentionInterval = DefaultRetentionInterval
	}
	if cfg.DropLogInterval <= 0 {
		cfg.DropLogInterval = DefaultDropLogInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	w := &Writer{
		cfg:  cfg,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go w.run()
	return w
}

// Add queues a record. It reports false when the buffer is full and the
// record was dropped.
func (w *Writer) Add(r store.UsageRecord) bool {
	if r.ID == "" {
		r.ID = store.NewPublicID("use")
	}
	w.mu.Lock()
	if len(w.buf) >= w.cfg.MaxBuffer {
		w.mu.Unlock()
		w.drop(1)
		return false
	}
	w.buf = append(w.buf, r)
	full := len(w.buf) == w.cfg.MaxBatch
	w.mu.Unlock()
	if full { // a batch is ready: write it without waiting for the tick
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return true
}

// Len returns the number of records waiting to be written.
func (w *Writer) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.buf)
}

// Close writes what is buffered (within DefaultCloseTimeout) and stops the
// writer. Records it could not write are dropped and counted.
func (w *Writer) Close() error {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	return nil
}

func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.cfg.FlushInterval)
	defer tick.Stop()
	nextRetention := time.Now().Add(time.Minute) // not in the middle of start-up
	for {
		select {
		case <-w.stop:
			ctx, cancel := context.WithTimeout(context.Background(), DefaultCloseTimeout)
			w.flush(ctx)
			cancel()
			if n := w.Len(); n > 0 {
				w.mu.Lock()
				w.buf = nil
				w.mu.Unlock()
				w.drop(n)
			}
			w.logDrops(true)
			return
		case <-tick.C:
		case <-w.kick:
		}
		w.flush(context.Background())
		w.logDrops(false)
		if now := time.Now(); now.After(nextRetention) {
			nextRetention = now.Add(w.cfg.RetentionInterval)
			w.purge(now)
		}
	}
}

// flush writes the buffer batch by batch until it is empty or a write
// fails; what failed stays at the front for the next tick.
func (w *Writer) flush(ctx context.Context) {
	for {
		w.mu.Lock()
		n := min(len(w.buf), w.cfg.MaxBatch)
		batch := w.buf[:n:n]
		w.mu.Unlock()
		if n == 0 {
			return
		}
		start := time.Now()
		_, err := w.cfg.Store.InsertUsage(ctx, batch)
		if w.cfg.OnBatch != nil {
			w.cfg.OnBatch(n, time.Since(start), err)
		}
		if err != nil && errors.Is(err, store.ErrUnavailable) {
			w.logError(err, n)
			return // kept: retried on the next tick
		}
		w.mu.Lock()
		w.buf = w.buf[n:]
		if len(w.buf) == 0 {
			w.buf = nil // let the backing array go after a burst
		}
		w.mu.Unlock()
		if err != nil {
			// The database refused the batch itself (a record of a user
			// deleted meanwhile, say): writing it again would fail again.
			// One by one, only the records at fault are dropped.
			w.logError(err, n)
			w.insertEach(ctx, batch)
			return
		}
		if n < w.cfg.MaxBatch {
			return
		}
	}
}

// insertEach writes a refused batch record by record, dropping (and
// counting) those the database refuses.
func (w *Writer) insertEach(ctx context.Context, batch []store.UsageRecord) {
	for i := range batch {
		if _, err := w.cfg.Store.InsertUsage(ctx, batch[i:i+1]); err != nil {
			w.drop(1)
		}
	}
}

func (w *Writer) purge(now time.Time) {
	var records, aggregates time.Time
	if w.cfg.RecordRetention > 0 {
		records = now.Add(-w.cfg.RecordRetention)
	}
	if w.cfg.AggregateRetention > 0 {
		aggregates = now.Add(-w.cfg.AggregateRetention)
	}
	if records.IsZero() && aggregates.IsZero() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, _, err := w.cfg.Store.PurgeUsage(ctx, records, aggregates, 0)
	if err != nil {
		w.cfg.Logger.Warn("applying usage retention failed", zap.Error(err))
	} else if n > 0 {
		w.cfg.Logger.Info("usage retention applied", zap.Int64("deleted", n))
	}
}

func (w *Writer) drop(n int) {
	w.dropped.Add(int64(n))
	if w.cfg.OnDrop != nil {
		w.cfg.OnDrop(n)
	}
}

// logDrops logs the records dropped since the last line, at most once per
// DropLogInterval (always when final).
func (w *Writer) logDrops(final bool) {
	now := time.Now().UnixNano()
	if !final && now-w.lastDropLog.Load() < int64(w.cfg.DropLogInterval) {
		return
	}
	if n := w.dropped.Swap(0); n > 0 {
		w.lastDropLog.Store(now)
		w.cfg.Logger.Warn("usage records dropped: the buffer was full or the database refused them",
			zap.Int64("dropped", n), zap.Int("max_buffer", w.cfg.MaxBuffer), zap.Duration("log_interval", w.cfg.DropLogInterval))
	}
}

func (w *Writer) logError(err error, n int) {
	if now := time.Now(); now.Sub(w.lastErrLog) >= w.cfg.DropLogInterval {
		w.lastErrLog = now
		w.cfg.Logger.Warn("writing usage records failed; they stay buffered", zap.Int("batch", n), zap.Int("buffered", w.Len()), zap.Error(err))
	}
}
