package http_test

// Against the real forge-broker + forge-frontend ($FORGE_BIN_DIR).

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	forge "minifor.ge/forge/http"
	"minifor.ge/forge/internal/stacktest"
)

// The seed's concurrency test through the buffered client: 100,000 keys
// from 1,000 goroutines sharing 4 clients, 0 duplicates.
func TestSeedHundredThousandKeysFromThousandGoroutines(t *testing.T) {
	const goroutines, perGoroutine, clients = 1000, 100, 4
	s := stacktest.Start(t)
	cs := make([]*forge.Client, clients)
	for i := range cs {
		cs[i] = newClient(t, s.URL, forge.Options{Batch: 1000, Low: 400})
	}
	ctx := ctxFor(t, 30*time.Second)
	got := make([][]string, goroutines)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := cs[g%clients]
			for i := 0; i < perGoroutine; i++ {
				k, err := c.GetKey(ctx)
				if err != nil {
					errs <- err
					return
				}
				got[g] = append(got[g], k)
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("GetKey: %v\n%s", err, s.Logs())
	}
	seen := make(map[string]struct{}, goroutines*perGoroutine)
	for _, ks := range got {
		for _, k := range ks {
			if _, dup := seen[k]; dup {
				t.Fatalf("key %s handed out twice", k)
			}
			seen[k] = struct{}{}
		}
	}
	if len(seen) != goroutines*perGoroutine {
		t.Fatalf("%d distinct keys, want %d", len(seen), goroutines*perGoroutine)
	}
}

// With AUTH_TOKEN set: the client's token is sent as a bearer token; a
// client without one gets a sticky 401 StatusError. A namespace the stack
// does not serve is a sticky 404. Close drops and counts the buffer.
func TestRealFrontendTokenNamespaceAndClose(t *testing.T) {
	const token = "go-client-test-token-0123"
	s := stacktest.Start(t, "AUTH_TOKEN="+token)
	ctx := ctxFor(t, 10*time.Second)

	c := newClient(t, s.URL, forge.Options{Token: token, Batch: 50, Low: 5})
	k, err := c.GetKey(ctx)
	if err != nil || len(k) == 0 {
		t.Fatalf("GetKey with the token: %q, %v\n%s", k, err, s.Logs())
	}
	if !stacktest.WaitUntil(5*time.Second, func() bool { return c.Buffered() == 49 }) {
		t.Fatalf("buffer holds %d keys, want 49", c.Buffered())
	}
	if dropped, err := c.Close(); dropped != 49 || err != nil {
		t.Fatalf("Close: %d, %v; want 49 dropped", dropped, err)
	}

	var se *forge.StatusError
	anon := newClient(t, s.URL, forge.Options{})
	if _, err := anon.GetKey(ctx); !errors.As(err, &se) || se.Status != 401 {
		t.Fatalf("GetKey without a token: %v, want a 401 StatusError", err)
	}
	if _, err := anon.GetKey(ctx); !errors.As(err, &se) {
		t.Fatalf("second GetKey without a token: %v, want the same sticky error", err)
	}

	other := newClient(t, s.URL, forge.Options{Token: token, Namespace: "nosuch"})
	if _, err := other.GetKey(ctx); !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("GetKey in an unserved namespace: %v, want a 404 StatusError", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("waited out the context")
	}
}
