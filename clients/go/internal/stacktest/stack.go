// Package stacktest starts a real mini-forge stack (forge-broker and
// forge-frontend from $FORGE_BIN_DIR) for the Go clients' tests: loopback,
// a free port, a temporary directory with its own SQLite store and a unique
// SHM_NAME. Stop ends only the processes it started (by pid) and removes
// the stack's /dev/shm segments. A test that needs the stack fails when it
// cannot start one; it never skips.
package stacktest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var serial atomic.Int64

// Stack is one running broker + frontend.
type Stack struct {
	ShmName string // the stack's SHM_NAME
	URL     string // http://127.0.0.1:PORT
	Dir     string // working directory of both processes (store, logs)

	procs []*exec.Cmd
}

// Start runs a broker and a frontend with extra environment entries
// ("KEY=VALUE") and waits until /healthz answers 200. It registers Stop
// with t.Cleanup.
func Start(t testing.TB, extra ...string) *Stack {
	t.Helper()
	bin := os.Getenv("FORGE_BIN_DIR")
	if bin == "" {
		t.Fatal("FORGE_BIN_DIR is not set: point it at the directory " +
			"holding forge-broker and forge-frontend (the build's bin/)")
	}
	s := &Stack{
		ShmName: fmt.Sprintf("t-go-%d-%d", os.Getpid(), serial.Add(1)),
		Dir:     t.TempDir(),
	}
	port := FreePort(t)
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	env := append(os.Environ(),
		"SHM_NAME="+s.ShmName,
		"DB_URL=sqlite:"+filepath.Join(s.Dir, "forge.db"),
		"HOST=127.0.0.1",
		"PORT="+strconv.Itoa(port),
		"WORKERS=2")
	env = append(env, extra...)
	t.Cleanup(s.Stop)
	for _, prog := range []string{"forge-broker", "forge-frontend"} {
		s.start(t, filepath.Join(bin, prog), env)
	}
	if !WaitUntil(15*time.Second, s.healthy) {
		t.Fatalf("stack %s on %s not healthy within 15 s; logs:\n%s",
			s.ShmName, s.URL, s.Logs())
	}
	return s
}

func (s *Stack) start(t testing.TB, path string, env []string) {
	t.Helper()
	log, err := os.Create(filepath.Join(s.Dir, filepath.Base(path)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(path)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, s.Dir, log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", path, err)
	}
	s.procs = append(s.procs, cmd)
}

func (s *Stack) healthy() bool {
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Logs returns what the stack's processes wrote.
func (s *Stack) Logs() string {
	out := ""
	for _, p := range s.procs {
		name := filepath.Base(p.Path)
		b, _ := os.ReadFile(filepath.Join(s.Dir, name+".log"))
		out += "--- " + name + " ---\n" + string(b)
	}
	return out
}

// Stop ends the frontend, then the broker (SIGTERM, SIGKILL after 5 s),
// and removes the stack's segments. Safe to call twice.
func (s *Stack) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		stop(s.procs[i])
	}
	s.procs = nil
	segs, _ := filepath.Glob("/dev/shm/mini-forge." + s.ShmName + "*")
	for _, f := range segs {
		os.Remove(f)
	}
}

func stop(cmd *exec.Cmd) {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// FreePort returns a loopback TCP port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitUntil polls cond every 10 ms until it holds or the timeout passes.
func WaitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
