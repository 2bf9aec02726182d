//go:build forgeshm

package shm_test

// Against the real forge-broker + forge-frontend ($FORGE_BIN_DIR) and the
// installed libforge-client.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	forgehttp "minifor.ge/forge/http"
	"minifor.ge/forge/internal/stacktest"
	"minifor.ge/forge/shm"
)

func open(t *testing.T, name string) *shm.Client {
	t.Helper()
	c, err := shm.Open(name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// uniq records keys and fails the test on a repeat.
type uniq struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

func (u *uniq) add(t *testing.T, keys ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, k := range keys {
		if _, dup := u.seen[k]; dup || k == "" {
			t.Errorf("key %q handed out twice (or empty)", k)
		}
		u.seen[k] = struct{}{}
	}
}

func TestGetKeyAndGetKeys(t *testing.T) {
	s := stacktest.Start(t)
	c := open(t, s.ShmName)
	u := &uniq{seen: map[string]struct{}{}}
	k, err := c.GetKey("")
	if err != nil {
		t.Fatalf("GetKey: %v\n%s", err, s.Logs())
	}
	u.add(t, k)
	ks, err := c.GetKeys("", 1000)
	if err != nil || len(ks) != 1000 {
		t.Fatalf("GetKeys: %d keys, %v", len(ks), err)
	}
	for _, x := range ks {
		if len(x) != len(k) {
			t.Fatalf("key %q: length %d, GetKey gave %d", x, len(x), len(k))
		}
	}
	u.add(t, ks...)

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetKey(""); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("GetKey after Close: %v", err)
	}
}

// Each failure is its own error (errors.Is) carrying the library's detail.
func TestErrorsAreDistinctAndCarryTheDetail(t *testing.T) {
	s := stacktest.Start(t)
	c := open(t, s.ShmName)

	_, err := c.GetKey("nosuch")
	var e *shm.Error
	if !errors.Is(err, shm.ErrNoNamespace) || !errors.As(err, &e) ||
		!strings.Contains(e.Error(), "nosuch") {
		t.Fatalf("unknown namespace: %v, want ErrNoNamespace naming it", err)
	}
	t.Logf("unknown namespace: %v", err)
	if _, err := c.GetKeys("", 0); !errors.Is(err, shm.ErrInvalid) {
		t.Fatalf("GetKeys(n=0): %v, want ErrInvalid", err)
	}

	// No segment under that name: at Open or at the first pop.
	missing := fmt.Sprintf("t-go-missing-%d", os.Getpid())
	if m, err := shm.Open(missing); err == nil {
		_, err = m.GetKey("")
		m.Close()
		t.Logf("missing segment: %v", err)
		if !errors.Is(err, shm.ErrNoBroker) {
			t.Fatalf("missing segment: %v, want ErrNoBroker", err)
		}
	} else if !errors.Is(err, shm.ErrNoBroker) {
		t.Fatalf("Open of a missing segment: %v, want ErrNoBroker", err)
	}

	// A file that is not a mini-forge segment.
	bad := fmt.Sprintf("t-go-bad-%d", os.Getpid())
	path := "/dev/shm/mini-forge." + bad
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	if b, err := shm.Open(bad); err == nil {
		_, err = b.GetKey("")
		b.Close()
		t.Logf("foreign segment: %v", err)
		if !errors.Is(err, shm.ErrBadSegment) || !errors.As(err, &e) || e.Detail == "" {
			t.Fatalf("foreign segment: %v, want ErrBadSegment with a detail", err)
		}
	} else if !errors.Is(err, shm.ErrBadSegment) {
		t.Fatalf("Open of a foreign segment: %v, want ErrBadSegment", err)
	}
}

// Shared-memory clients (single and batched pops), the frontend's HTTP
// workers and buffered HTTP clients draw from one segment at once:
// 0 duplicates overall.
func TestMixedConsumersNeverRepeatAKey(t *testing.T) {
	s := stacktest.Start(t)
	u := &uniq{seen: map[string]struct{}{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	run := func(n int, f func() error) {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f(); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	sc := open(t, s.ShmName)
	run(8, func() error {
		for i := 0; i < 500; i++ {
			k, err := sc.GetKey("")
			if err != nil {
				return err
			}
			u.add(t, k)
		}
		return nil
	})
	run(4, func() error {
		for i := 0; i < 20; i++ {
			ks, err := sc.GetKeys("", 250)
			if err != nil {
				return err
			}
			u.add(t, ks...)
		}
		return nil
	})
	hc, err := forgehttp.New(s.URL, forgehttp.Options{Batch: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	run(16, func() error {
		for i := 0; i < 500; i++ {
			k, err := hc.GetKey(ctx)
			if err != nil {
				return err
			}
			u.add(t, k)
		}
		return nil
	})
	run(4, func() error { // plain GET /get-key, one key per request
		for i := 0; i < 200; i++ {
			resp, err := http.Get(s.URL + "/get-key")
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /get-key: %d %q %v", resp.StatusCode, body, err)
			}
			u.add(t, strings.TrimSpace(string(body)))
		}
		return nil
	})
	wg.Wait()
	if want := 8*500 + 4*20*250 + 16*500 + 4*200; len(u.seen) != want && !t.Failed() {
		t.Fatalf("%d distinct keys, want %d", len(u.seen), want)
	}
}
