package fakeupstream

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ReadyPrefix starts the line Main prints once it listens, followed by the
// address; a parent process reads it to learn the port.
const ReadyPrefix = "fakeupstream listening on "

// Main runs a fake upstream from command-line arguments until SIGINT or
// SIGTERM:
//
//	-addr 127.0.0.1:8089  -chunks 16  -chunk-delay 0s  -models bench-model[,other]
//	-variant bench-burst=65/0s  (repeatable: a model with its own chunks/delay)
//
// It prints ReadyPrefix and the address to stdout once it listens.
func Main(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fakeupstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8089", "address to listen on (port 0 picks a free one)")
	var opts Options
	fs.IntVar(&opts.Chunks, "chunks", 16, "content chunks per stream (words per plain answer)")
	fs.DurationVar(&opts.ChunkDelay, "chunk-delay", 0, "pause before each content chunk but the first")
	models := fs.String("models", DefaultModel, "comma-separated model ids of GET /v1/models")
	fs.Func("variant", "a model whose streams have their own shape, as model=chunks/delay (e.g. bench-burst=65/0s); repeatable", func(s string) error {
		v, err := ParseVariant(s)
		if err == nil {
			opts.Variants = append(opts.Variants, v)
		}
		return err
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	for m := range strings.SplitSeq(*models, ",") {
		if m = strings.TrimSpace(m); m != "" {
			opts.Models = append(opts.Models, m)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s, err := Start(*addr, opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, ReadyPrefix+s.Addr)
	<-ctx.Done()
	return s.Stop()
}

// ParseVariant reads "model=chunks/delay", as -variant takes it.
func ParseVariant(s string) (Variant, error) {
	model, shape, ok := strings.Cut(s, "=")
	chunks, delay, ok2 := strings.Cut(shape, "/")
	if !ok || !ok2 || strings.TrimSpace(model) == "" {
		return Variant{}, fmt.Errorf("variant %q: want model=chunks/delay", s)
	}
	n, err := strconv.Atoi(chunks)
	if err != nil || n < 1 {
		return Variant{}, fmt.Errorf("variant %q: chunks must be a positive whole number", s)
	}
	d, err := time.ParseDuration(delay)
	if err != nil || d < 0 {
		return Variant{}, fmt.Errorf("variant %q: bad delay", s)
	}
	return Variant{Model: strings.TrimSpace(model), Chunks: n, ChunkDelay: d}, nil
}

// String writes v as ParseVariant reads it.
func (v Variant) String() string {
	return v.Model + "=" + strconv.Itoa(v.Chunks) + "/" + v.ChunkDelay.String()
}
