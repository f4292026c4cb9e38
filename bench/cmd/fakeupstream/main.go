// Command fakeupstream runs the benchmark's fake OpenAI-compatible upstream
// on its own, for manual runs and profiling:
//
//	go run ./bench/cmd/fakeupstream -addr 127.0.0.1:8089 -chunks 16 -chunk-delay 1ms
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/caddy-llm/gateway/bench/fakeupstream"
)

func main() {
	err := fakeupstream.Main(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeupstream:", err)
		os.Exit(1)
	}
}
