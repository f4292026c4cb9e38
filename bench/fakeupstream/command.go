package fakeupstream

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
)

// ReadyPrefix starts the line Main prints once it listens, followed by the
// address; a parent process reads it to learn the port.
const ReadyPrefix = "fakeupstream listening on "

// Main runs a fake upstream from command-line arguments until SIGINT or
// SIGTERM:
//
//	-addr 127.0.0.1:8089  -chunks 16  -chunk-delay 0s  -models bench-model[,other]
//
// It prints ReadyPrefix and the address to stdout once it listens.
func Main(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fakeupstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8089", "address to listen on (port 0 picks a free one)")
	var opts Options
	fs.IntVar(&opts.Chunks, "chunks", 16, "content chunks per stream (words per plain answer)")
	fs.DurationVar(&opts.ChunkDelay, "chunk-delay", 0, "pause before each content chunk but the first")
	models := fs.String("models", DefaultModel, "comma-separated model ids of GET /v1/models")
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
