package http_test

// Behaviour that needs a misbehaving server: httptest servers answering
// exactly as forge-frontend does (frontend/handlers.cpp: 200 text/plain
// body "KEY\n"... with X-Key-Count; 503 + Retry-After: 1 + one-line reason).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	forge "minifor.ge/forge/http"
	"minifor.ge/forge/internal/stacktest"
)

// keys returns n distinct 6-character keys starting with prefix.
func keys(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, from+i)
	}
	return out
}

// writeKeys answers like the frontend's /get-keys.
func writeKeys(w http.ResponseWriter, ks []string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Key-Count", strconv.Itoa(len(ks)))
	fmt.Fprint(w, strings.Join(ks, "\n")+"\n")
}

// writeUnavailable answers like the frontend's Unavailable().
func writeUnavailable(w http.ResponseWriter, reason string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprint(w, reason)
}

const exhaustedBody = "key space exhausted: every 6-character key of the " +
	"store has been issued; no more keys will come\n"

func newClient(t *testing.T, url string, o forge.Options) *forge.Client {
	t.Helper()
	c, err := forge.New(url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRequestCarriesCountNamespaceAndToken(t *testing.T) {
	t.Parallel()
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r:
		default:
		}
		writeKeys(w, keys("a", 0, 7))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, forge.Options{Namespace: "invites", Token: "s3cret-token-0123456", Batch: 7, Low: 2})
	if _, err := c.GetKey(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.URL.Path != "/get-keys" || r.URL.Query().Get("count") != "7" ||
		r.URL.Query().Get("ns") != "invites" {
		t.Errorf("request %s, want /get-keys?count=7&ns=invites", r.URL)
	}
	if a := r.Header.Get("Authorization"); a != "Bearer s3cret-token-0123456" {
		t.Errorf("Authorization %q", a)
	}
}

// After the first refill, GetKey is served from the buffer: no request
// until the buffer falls below Low, and GetKey returns at once even while
// the next refill hangs.
func TestGetKeyDoesNotTouchTheNetworkWhileBuffered(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) > 1 {
			<-release // every later refill hangs
			return
		}
		writeKeys(w, keys("b", 0, 100))
	}))
	defer srv.Close()
	defer close(release)
	c := newClient(t, srv.URL, forge.Options{Batch: 100, Low: 10})
	ctx := ctxFor(t, 5*time.Second)
	if _, err := c.GetKey(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 90; i++ { // buffer 99 → 10: never below Low
		if _, err := c.GetKey(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d requests with the buffer at or above Low, want 1", n)
	}
	for i := 0; i < 10; i++ { // below Low: a refill starts and hangs
		start := time.Now()
		if _, err := c.GetKey(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("GetKey took %v with keys buffered", d)
		}
	}
	if !stacktest.WaitUntil(2*time.Second, func() bool { return requests.Load() == 2 }) {
		t.Fatalf("no refill below Low: %d requests", requests.Load())
	}
	short := ctxFor(t, 50*time.Millisecond)
	if _, err := c.GetKey(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("empty buffer, hung refill: got %v, want the context's deadline", err)
	}
}

// A refill reset mid-body is dropped whole and retried as a new request:
// none of its keys is handed out, and no key twice.
func TestResetMidBodyDropsThePartialBatch(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(requests.Add(1))
		ks := keys(fmt.Sprintf("r%d", n), 0, 50)
		if n%2 == 1 { // odd requests: half the body, then a reset
			body := strings.Join(ks, "\n") + "\n"
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"+
				"X-Key-Count: 50\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:len(body)/2])
			buf.Flush()
			conn.(interface{ SetLinger(int) error }).SetLinger(0) // RST, not FIN
			conn.Close()
			return
		}
		writeKeys(w, ks)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, forge.Options{Batch: 50, Low: 10})
	ctx := ctxFor(t, 10*time.Second)
	seen := map[string]bool{}
	for i := 0; i < 150; i++ {
		k, err := c.GetKey(ctx)
		if err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		if seen[k] {
			t.Fatalf("key %s handed out twice", k)
		}
		seen[k] = true
		if n, _ := strconv.Atoi(k[1:2]); n%2 == 1 {
			t.Fatalf("key %s comes from a body that was cut short", k)
		}
	}
	if requests.Load() < 6 {
		t.Fatalf("%d requests for 3 good batches, want ≥ 6 (3 reset, 3 good)", requests.Load())
	}
}

// A 503 with Retry-After: 1 holds the next refill back a second; callers on
// an empty buffer wait for it rather than fail.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		n := len(times)
		mu.Unlock()
		if n == 1 {
			writeUnavailable(w, "the ring is empty: demand is above supply or "+
				"the broker is still starting; retry\n")
			return
		}
		writeKeys(w, keys("c", 0, 10))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, forge.Options{Batch: 10, Low: 2})
	if _, err := c.GetKey(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatalf("GetKey after a 503: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 2 {
		t.Fatalf("%d requests, want 2", len(times))
	}
	if gap := times[1].Sub(times[0]); gap < 950*time.Millisecond {
		t.Fatalf("refill retried %v after 503 Retry-After: 1", gap)
	}
}

// "key space exhausted": the buffer is served out, then ErrExhausted, for
// good, without asking the server again.
func TestExhaustedIsDistinctAndSticky(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			writeKeys(w, keys("d", 0, 5))
			return
		}
		writeUnavailable(w, exhaustedBody)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, forge.Options{Batch: 5, Low: 5})
	ctx := ctxFor(t, 5*time.Second)
	if _, err := c.GetKey(ctx); err != nil {
		t.Fatal(err)
	}
	// The refill below Low meets the exhausted answer; the 4 keys still
	// buffered are served all the same.
	if !stacktest.WaitUntil(2*time.Second, func() bool { return requests.Load() == 2 }) {
		t.Fatal("no refill below Low")
	}
	for i := 1; i < 5; i++ {
		if _, err := c.GetKey(ctx); err != nil {
			t.Fatalf("buffered key %d: %v", i, err)
		}
	}
	for i := 0; i < 3; i++ {
		_, err := c.GetKey(ctx)
		if !errors.Is(err, forge.ErrExhausted) {
			t.Fatalf("GetKey %d after exhaustion: %v, want ErrExhausted", i, err)
		}
	}
	if n := requests.Load(); n != 2 {
		t.Fatalf("%d requests, want 2: exhaustion is final", n)
	}
	if dropped, err := c.Close(); dropped != 0 || err != nil {
		t.Fatalf("Close: %d, %v", dropped, err)
	}
}

// An answer no retry fixes (here a 401 from a bad token) is a sticky
// *StatusError with the server's reason.
func TestUnauthorizedIsAStatusError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mini-forge", error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "the bearer token is not valid\n")
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, forge.Options{Token: "wrong-token-0123456789"})
	_, err := c.GetKey(ctxFor(t, 5*time.Second))
	var se *forge.StatusError
	if !errors.As(err, &se) || se.Status != 401 || !strings.Contains(se.Error(), "not valid") {
		t.Fatalf("got %v, want a 401 StatusError", err)
	}
}

// Bodies that are not a complete list of keys are never used.
func TestMalformedBodiesAreDropped(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	bad := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { // count mismatch
			w.Header().Set("X-Key-Count", "3")
			fmt.Fprint(w, "x00001\nx00002\n")
		},
		func(w http.ResponseWriter) { fmt.Fprint(w, "x00003\nx0004\n") },  // lengths differ
		func(w http.ResponseWriter) { fmt.Fprint(w, "x00005\nx 0006\n") }, // a space
		func(w http.ResponseWriter) { fmt.Fprint(w, "x00007\nx00008") },   // no final newline
		func(w http.ResponseWriter) { writeKeys(w, keys("y", 0, 4)) },     // more than Batch
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(requests.Add(1))
		if n <= len(bad) {
			bad[n-1](w)
			return
		}
		writeKeys(w, []string{"good01"})
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, forge.Options{Batch: 3, Low: 1})
	k, err := c.GetKey(ctxFor(t, 10*time.Second))
	if err != nil || k != "good01" {
		t.Fatalf("got %q, %v; want good01 from the first valid body", k, err)
	}
}

func TestCloseReportsDroppedKeys(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeKeys(w, keys("e", 0, 40))
	}))
	defer srv.Close()
	c, err := forge.New(srv.URL, forge.Options{Batch: 40, Low: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 5*time.Second)
	for i := 0; i < 15; i++ {
		if _, err := c.GetKey(ctx); err != nil {
			t.Fatal(err)
		}
	}
	dropped, err := c.Close()
	if dropped != 25 || err != nil {
		t.Fatalf("Close: %d, %v; want 25 dropped", dropped, err)
	}
	if _, err := c.GetKey(ctx); !errors.Is(err, forge.ErrClosed) {
		t.Fatalf("GetKey after Close: %v", err)
	}
	if _, err := c.Close(); !errors.Is(err, forge.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		o   forge.Options
	}{
		{"ftp://x", forge.Options{}},
		{"http://127.0.0.1:1", forge.Options{Batch: 10, Low: 11}},
		{"http://127.0.0.1:1", forge.Options{Batch: -1}},
	} {
		if c, err := forge.New(tc.url, tc.o); err == nil {
			c.Close()
			t.Errorf("New(%q, %+v) accepted", tc.url, tc.o)
		}
	}
}
