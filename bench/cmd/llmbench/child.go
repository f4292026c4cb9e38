package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process the benchmark started (fake upstream, Redis, Caddy)
// and stops at the end. Its output goes to a log file in the run's
// temporary folder, shown when it fails.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has exited
	waitErr error
}

// childSpec describes a process to start.
type childSpec struct {
	name string
	argv []string
	env  []string // added to this process's environment
	drop []string // names removed from this process's environment first
	// ready, when set, is the prefix of the stdout line the process prints
	// once it serves; startChild waits for it and returns the rest of
	// that line.
	ready string
}

// startChild starts a process in its own process group (a Ctrl-C in the
// terminal reaches only the benchmark, which then stops its children in
// order), killed by the kernel if the benchmark dies first.
func startChild(spec childSpec, logDir string) (*child, string, error) {
	logPath := filepath.Join(logDir, spec.name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, "", fmt.Errorf("creating the log of %s: %w", spec.name, err)
	}
	cmd := exec.Command(spec.argv[0], spec.argv[1:]...)
	cmd.Env = append(environWithout(spec.drop), spec.env...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	var stdout io.ReadCloser
	if spec.ready != "" {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			_ = logFile.Close()
			return nil, "", fmt.Errorf("starting %s: %w", spec.name, err)
		}
	} else {
		cmd.Stdout = logFile
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, "", fmt.Errorf("starting %s: %w", spec.name, err)
	}
	c := &child{name: spec.name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(c.exited)
	}()
	if spec.ready == "" {
		return c, "", nil
	}

	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if rest, ok := strings.CutPrefix(line, spec.ready); ok {
				lines <- strings.TrimSpace(rest)
				_, _ = io.Copy(logFile, br)
				return
			}
			_, _ = logFile.WriteString(line)
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	select {
	case rest, ok := <-lines:
		if ok {
			return c, rest, nil
		}
	case <-time.After(30 * time.Second):
	}
	_ = c.stop(time.Second)
	return nil, "", fmt.Errorf("starting %s: it never said it was ready: %s", spec.name, c.logTail())
}

// pid returns the process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// running reports whether the process has not exited.
func (c *child) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// stop asks the process to end (SIGTERM), and kills it after grace.
func (c *child) stop(grace time.Duration) error {
	if !c.running() {
		return nil
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping %s: %w", c.name, err)
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(grace):
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
	return fmt.Errorf("stopping %s: killed after %s", c.name, grace)
}

// logTail returns the end of the process's log, for error messages.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return "(no log)"
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty log)"
	}
	return s
}

// environWithout returns this process's environment without the variables
// named.
func environWithout(names []string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// logCount returns how many lines of the process's log contain s, or "–"
// when the log cannot be read.
func (c *child) logCount(s string) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return "–"
	}
	return strconv.Itoa(strings.Count(string(b), s))
}
