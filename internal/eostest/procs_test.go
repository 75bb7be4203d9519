package eostest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildKappa builds cmd/kappa into dir with the go command on PATH (the one running the
// tests) and returns the binary's path.
func buildKappa(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "kappa")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/kappa-stream/kappa/cmd/kappa")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build kappa: %v\n%s", err, out)
	}
	return bin
}

// fleet runs instances of the kappa binary on one pipeline and records the faults it
// injects and how long each instance took to commit again after a restart.
type fleet struct {
	t        *testing.T
	bin      string
	pipeline string // pipeline file
	brokers  string
	dir      string
	extra    []string // extra flags of kappa run

	quiet chan struct{} // closed once all input is committed: nothing is left to recover

	mu          sync.Mutex
	procs       map[string]*proc
	faults      map[string]int
	maxRecovery time.Duration
	recoveries  sync.WaitGroup
	errs        []string
}

type proc struct {
	id       string
	admin    string // host:port of its admin server
	stateDir string
	cmd      *exec.Cmd
	log      *os.File
	exited   chan struct{}
	err      error       // the exit status, once exited is closed
	stopped  atomic.Bool // the fleet killed or stopped it
}

func newFleet(t *testing.T, bin, pipeline, brokers string, extra ...string) *fleet {
	f := &fleet{
		t: t, bin: bin, pipeline: pipeline, brokers: brokers, dir: t.TempDir(), extra: extra,
		procs: map[string]*proc{}, faults: map[string]int{}, quiet: make(chan struct{}),
	}
	t.Cleanup(f.killAll)
	return f
}

// start starts instance id with its state directory (kept across restarts of the id).
func (f *fleet) start(id string) *proc {
	f.t.Helper()
	admin := freeAddr(f.t)
	stateDir := filepath.Join(f.dir, id, "state")
	logPath := filepath.Join(f.dir, id+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		f.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start %s at %s\n", id, time.Now().Format(time.RFC3339Nano))
	args := append([]string{
		"run", "-f", f.pipeline, "--brokers", f.brokers, "--instance-id", id,
		"--state-dir", stateDir, "--admin-addr", admin, "--log-level", "info",
	}, f.extra...)
	cmd := exec.Command(f.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("start %s: %v", id, err)
	}
	p := &proc{id: id, admin: admin, stateDir: stateDir, cmd: cmd, log: logf, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	f.mu.Lock()
	f.procs[id] = p
	f.mu.Unlock()
	return p
}

// restart starts id again after a fault and measures the time from the fault to its first
// committed transaction.
func (f *fleet) restart(id string, faultAt time.Time) {
	p := f.start(id)
	f.recoveries.Add(1)
	go func() {
		defer f.recoveries.Done()
		switch err := waitCommitted(p, f.quiet, 2*time.Minute); {
		case errors.Is(err, errQuiet):
			return // restarted after the last input it could have processed
		case p.stopped.Load():
			return // killed again before it committed: the next restart is measured
		case err != nil:
			f.fail("instance %s did not commit within 2m of its restart: %v", id, err)
			return
		}
		d := time.Since(faultAt)
		f.mu.Lock()
		f.maxRecovery = max(f.maxRecovery, d)
		f.mu.Unlock()
	}()
}

// kill9 kills id with SIGKILL, as a crashed machine would, and waits for it to be gone.
func (f *fleet) kill9(id string) time.Time {
	f.t.Helper()
	p := f.proc(id)
	at := time.Now()
	p.stopped.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	f.count("kill9")
	return at
}

// stop stops id with SIGTERM, as a rolling restart would.
func (f *fleet) stop(id string) time.Time {
	f.t.Helper()
	at := time.Now()
	f.terminate(f.proc(id))
	f.count("sigterm")
	return at
}

// terminate sends p SIGTERM and requires a clean exit within 45s, the bound a pod's
// termination grace period would give it; then it kills p.
func (f *fleet) terminate(p *proc) {
	// One SIGTERM per process: a second one, from stopAll racing a fault's stop, would kill
	// a process that has already finished its graceful shutdown and removed its handler,
	// which looks like a crash.
	if p.stopped.CompareAndSwap(false, true) {
		// A process killed by SIGTERM before it installed its handler (in its first
		// milliseconds) dies of the signal, as any program would; wait until it serves its
		// admin port, so that the test stops it the way a rolling restart does.
		waitServing(p, 15*time.Second)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			f.fail("instance %s exited with %v after SIGTERM; its log ends:\n%s", p.id, p.err, tail(p.log.Name(), 40))
		}
	case <-time.After(45 * time.Second):
		// SIGQUIT makes the Go runtime write every goroutine's stack to the log: where
		// the shutdown hangs.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
		f.fail("instance %s did not stop within 45s of SIGTERM; its log, with the stacks of SIGQUIT, ends:\n%s", p.id, tail(p.log.Name(), 400))
	}
}

// waitServing waits until p answers on its admin port, or exits, or timeout passes.
func waitServing(p *proc, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return
		default:
		}
		resp, err := http.Get("http://" + p.admin + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wipe deletes id's state directory, as a pod rescheduled onto a fresh volume would see.
func (f *fleet) wipe(id string) {
	if err := os.RemoveAll(filepath.Join(f.dir, id, "state")); err != nil {
		f.t.Fatal(err)
	}
	f.count("wipe")
}

// check fails the test if an instance exited on its own: a processor stops only on a
// fatal error.
func (f *fleet) check() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, p := range f.procs {
		select {
		case <-p.exited:
			if p.cmd.ProcessState != nil && !killedOrTermed(p.cmd.ProcessState) {
				f.errs = append(f.errs, fmt.Sprintf("instance %s exited on its own: %v; log tail:\n%s", id, p.err, tail(p.log.Name(), 20)))
				delete(f.procs, id)
			}
		default:
		}
	}
}

func killedOrTermed(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ((ws.Signaled() && ws.Signal() == syscall.SIGKILL) || (ws.Exited() && ws.ExitStatus() == 0))
}

func (f *fleet) proc(id string) *proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.procs[id]
	if !ok {
		f.t.Fatalf("no instance %s; what happened to the instances:\n%s", id, strings.Join(f.errs, "\n"))
	}
	return p
}

func (f *fleet) count(fault string) {
	f.mu.Lock()
	f.faults[fault]++
	f.mu.Unlock()
}

func (f *fleet) fail(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// stopAll stops every running instance with SIGTERM.
func (f *fleet) stopAll() {
	f.mu.Lock()
	ids := make([]string, 0, len(f.procs))
	for id, p := range f.procs {
		select {
		case <-p.exited:
		default:
			if !p.stopped.Load() { // a fault is stopping it already
				ids = append(ids, id)
			}
		}
	}
	f.mu.Unlock()
	sort.Strings(ids)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.terminate(f.proc(id))
		}()
	}
	wg.Wait()
}

func (f *fleet) killAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.procs {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		p.log.Close()
	}
}

// finish waits for the recovery measurements and reports every problem seen.
func (f *fleet) finish() (faults map[string]int, maxRecovery time.Duration) {
	f.t.Helper()
	f.recoveries.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.errs {
		f.t.Error(e)
	}
	return f.faults, f.maxRecovery
}

// closeTimeouts returns the log lines, shortened, in which an instance reported that its
// Kafka client did not close within the shutdown timeout (with every goroutine's stack):
// not a failure, since the shutdown went on, but a client problem to diagnose.
func (f *fleet) closeTimeouts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.procs {
		data, err := os.ReadFile(p.log.Name())
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(data)) {
			if strings.Contains(line, "did not close within the shutdown timeout") {
				out = append(out, fmt.Sprintf("instance=%s log=%.8000s", p.id, strings.TrimSpace(line)))
			}
		}
	}
	return out
}

// logs returns the tail of every instance's log, for a failure message.
func (f *fleet) logs(n int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	ids := make([]string, 0, len(f.procs))
	for id := range f.procs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", id, f.procs[id].log.Name(), tail(f.procs[id].log.Name(), n))
	}
	return b.String()
}

var committedLine = regexp.MustCompile(`(?m)^kappa_processor_transactions_total\{result="committed"\} (\S+)$`)

var errQuiet = errors.New("all input was committed first")

// waitCommitted waits until p has committed a transaction, by its /metrics, or until quiet
// is closed (errQuiet).
func waitCommitted(p *proc, quiet <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cl := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.exited:
			return errors.New("it exited")
		case <-quiet:
			return errQuiet
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := cl.Get("http://" + p.admin + "/metrics")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := committedLine.FindSubmatch(body); m != nil {
			if n, _ := strconv.ParseFloat(string(m[1]), 64); n > 0 {
				return nil
			}
		}
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	fh, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer fh.Close()
	var lines []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
