package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is a child process the check started and must stop: its output goes to a log
// file, shown when it fails.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan error // receives Wait's result once the process has exited
	err  error      // Wait's result, once done has delivered it
	exit bool
}

// startProcess starts name with args, its output appended to logPath. The caller must
// call stop, which waits for the process.
func startProcess(name, logPath, dir, bin string, args ...string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group: a Ctrl-C in the terminal reaches checkops, which stops the
	// children in order, rather than every process at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.done <- err
	}()
	return p, nil
}

// exited reports, without blocking, whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	if p.exit {
		return true, p.err
	}
	select {
	case p.err = <-p.done:
		p.exit = true
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM and waits up to grace for the process to exit, then kills it.
func (p *process) stop(grace time.Duration) {
	if done, _ := p.exited(); done {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case p.err = <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		p.err = <-p.done
	}
	p.exit = true
}

// logTail is the last lines of the process's log, indented, for an error message.
func (p *process) logTail(lines int) string {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return "  (no log: " + err.Error() + ")"
	}
	text := strings.TrimRight(string(bytes.ToValidUTF8(data, nil)), "\n")
	if text == "" {
		return "  (the log is empty)"
	}
	all := strings.Split(text, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "  " + strings.Join(all, "\n  ")
}

// waitHTTP polls url until it answers 200, the process exits, or timeout passes.
func waitHTTP(ctx context.Context, p *process, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		if done, err := p.exited(); done {
			return fmt.Errorf("%s exited (%s) before %s answered; its log %s ends:\n%s", p.name, exitStatus(err), url, p.log, p.logTail(20))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %s within %s (last: %w); its log %s ends:\n%s", p.name, url, timeout, last, p.log, p.logTail(20))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address with a port free at the time of the call.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// exitStatus describes how a process ended, given Wait's result.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
