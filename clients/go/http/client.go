// Package http is a buffered client for mini-forge's HTTP API.
//
// A Client keeps a local FIFO of keys that one background goroutine fills
// with GET /get-keys?count=Batch[&ns=Namespace] whenever it holds fewer
// than Low keys. Contract:
//   - GetKey never waits on the network while the buffer holds a key.
//   - A key is handed out at most once by a Client: keys enter the buffer
//     only from a complete, valid response body (X-Key-Count lines, each a
//     well-formed key); a refill that fails part way (connection reset
//     mid-body) is dropped whole and retried as a new request, never merged.
//   - 503 answers are honoured: the next refill waits Retry-After seconds
//     (1 s when absent) while the buffer keeps being served; callers on an
//     empty buffer wait (until their context ends) rather than fail at once.
//   - "key space exhausted" (503 from the frontend) ends the client for
//     good: once the buffer is empty every GetKey returns ErrExhausted.
//   - Answers no retry can fix (400, 401, 403, 404, ...) are sticky as
//     well: GetKey returns a *StatusError once the buffer is empty.
//   - Close stops the refiller and reports how many buffered keys it
//     dropped. Those keys are gaps: they are never given back to the server
//     (a returned key could be one already served to someone else).
//
// One Client may be used from any number of goroutines at once.
package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrExhausted: the namespace's key space is used up; no more keys will
// come. Returned by GetKey, for good, once the buffer is empty.
var ErrExhausted = errors.New("mini-forge: key space exhausted")

// ErrClosed: GetKey after Close.
var ErrClosed = errors.New("mini-forge: client closed")

// StatusError is an answer no retry can fix (a bad token, an unknown
// namespace, a bad count): sticky, like ErrExhausted.
type StatusError struct {
	Status int    // HTTP status code
	Body   string // the server's one-line reason
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("mini-forge: GET /get-keys answered %d: %s", e.Status,
		strings.TrimSpace(e.Body))
}

// Options configure a Client. Zero values take the defaults.
type Options struct {
	Namespace string // ?ns=; "" is the default namespace
	Token     string // sent as "Authorization: Bearer <Token>" when set
	Batch     int    // keys per refill request (count=); default 100
	Low       int    // refill when fewer keys are buffered; default Batch/5, at least 1
	// HTTPClient makes the requests; default a client with a 10 s timeout.
	HTTPClient *nethttp.Client
}

// Backoff after a failed refill (network error, reset, bad body): doubles
// from minBackoff up to maxBackoff, reset by a good refill.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// exhaustedReason starts the frontend's 503 body when the key space is
// used up (frontend/handlers.cpp UnavailableReason).
const exhaustedReason = "key space exhausted"

// maxBody bounds a /get-keys body read into memory: MAX_BATCH (at most
// 10^6) keys of at most 79 characters and their newlines.
const maxBody = 80 << 20

// Client is a buffered key source. Create it with New.
type Client struct {
	url    string
	token  string
	batch  int
	low    int
	http   *nethttp.Client
	cancel context.CancelFunc
	done   chan struct{} // closed when the refiller has returned
	wake   chan struct{} // nudges the refiller (capacity 1)

	mu      sync.Mutex
	keys    []string // the FIFO: keys[head:] are buffered
	head    int
	changed chan struct{} // closed (and replaced) whenever keys or final change
	final   error         // sticky: ErrExhausted, *StatusError or ErrClosed
	lastErr error         // the latest transient refill failure, for context
}

// New returns a Client for baseURL (e.g. "http://127.0.0.1:8080") and
// starts its refiller, which makes the first request at once.
func New(baseURL string, o Options) (*Client, error) {
	if o.Batch == 0 {
		o.Batch = 100
	}
	if o.Low == 0 {
		o.Low = o.Batch / 5
		if o.Low < 1 {
			o.Low = 1
		}
	}
	if o.Batch < 1 || o.Low < 1 || o.Low > o.Batch {
		return nil, fmt.Errorf("mini-forge: Batch %d, Low %d: need 1 ≤ Low ≤ Batch",
			o.Batch, o.Low)
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/") + "/get-keys")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mini-forge: base URL %q is not an http(s)://HOST[:PORT] URL",
			baseURL)
	}
	q := url.Values{"count": {strconv.Itoa(o.Batch)}}
	if o.Namespace != "" {
		q.Set("ns", o.Namespace)
	}
	u.RawQuery = q.Encode()
	if o.HTTPClient == nil {
		o.HTTPClient = &nethttp.Client{Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		url: u.String(), token: o.Token, batch: o.Batch, low: o.Low, http: o.HTTPClient,
		cancel: cancel, done: make(chan struct{}), wake: make(chan struct{}, 1),
		changed: make(chan struct{}),
	}
	go c.refiller(ctx)
	return c, nil
}

// GetKey returns the next buffered key. On an empty buffer it waits for a
// refill until ctx ends; it returns ErrExhausted, a *StatusError or
// ErrClosed once no key can come any more.
func (c *Client) GetKey(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		if c.head < len(c.keys) {
			key := c.keys[c.head]
			c.keys[c.head] = ""
			c.head++
			if len(c.keys)-c.head < c.low {
				c.nudge()
			}
			c.mu.Unlock()
			return key, nil
		}
		if c.final != nil {
			err := c.final
			c.mu.Unlock()
			return "", err
		}
		changed, last := c.changed, c.lastErr
		c.nudge()
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			if last != nil {
				return "", fmt.Errorf("%w (latest refill: %v)", ctx.Err(), last)
			}
			return "", ctx.Err()
		}
	}
}

// Buffered returns how many keys the buffer holds now.
func (c *Client) Buffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys) - c.head
}

// Close stops the refiller (ending a request in flight) and empties the
// buffer. dropped is how many keys it held: gaps, never returned to the
// server. A second Close returns 0, ErrClosed.
func (c *Client) Close() (dropped int, err error) {
	c.mu.Lock()
	if c.final == ErrClosed {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	c.mu.Unlock()
	c.cancel()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	dropped = len(c.keys) - c.head
	c.keys, c.head = nil, 0
	c.setFinal(ErrClosed)
	return dropped, nil
}

// nudge wakes the refiller without blocking. Called with mu held.
func (c *Client) nudge() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// broadcast wakes every waiting GetKey. Called with mu held.
func (c *Client) broadcast() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// setFinal records a sticky error (the first one wins). Called with mu held.
func (c *Client) setFinal(err error) {
	if c.final == nil || err == ErrClosed {
		c.final = err
	}
	c.broadcast()
}

func (c *Client) needsRefill() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)-c.head < c.low
}

// refiller is the one goroutine that talks to the server.
func (c *Client) refiller(ctx context.Context) {
	defer close(c.done)
	backoff := minBackoff
	for {
		for !c.needsRefill() {
			select {
			case <-c.wake:
			case <-ctx.Done():
				return
			}
		}
		keys, wait, err := c.fetch(ctx)
		if ctx.Err() != nil {
			return // closed: a body read after Close is dropped too
		}
		var final *StatusError
		switch {
		case err == nil:
			c.append(keys)
			backoff = minBackoff
			continue
		case errors.Is(err, ErrExhausted) || errors.As(err, &final):
			c.mu.Lock()
			c.setFinal(err)
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		if wait == 0 {
			wait, backoff = backoff, min(2*backoff, maxBackoff)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

func min(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

func (c *Client) append(keys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head > 0 && c.head >= len(c.keys)/2 {
		c.keys = append(c.keys[:0], c.keys[c.head:]...) // compact the FIFO
		c.head = 0
	}
	c.keys = append(c.keys, keys...)
	c.lastErr = nil
	c.broadcast()
}

// fetch makes one /get-keys request. It returns the keys of a complete,
// valid answer; else an error and, for a 503, how long to wait before the
// next request (Retry-After).
func (c *Client) fetch(ctx context.Context) ([]string, time.Duration, error) {
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, c.url, nil)
	if err != nil {
		return nil, 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	// The whole body, or nothing: a reset mid-body drops what came.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("mini-forge: refill body cut short (dropped, retrying): %w", err)
	}
	if len(body) > maxBody {
		return nil, 0, fmt.Errorf("mini-forge: /get-keys body longer than %d bytes (dropped)", maxBody)
	}
	switch {
	case resp.StatusCode == nethttp.StatusOK:
		keys, err := parseKeys(body, resp.Header.Get("X-Key-Count"))
		if err == nil && len(keys) > c.batch {
			err = fmt.Errorf("mini-forge: /get-keys sent %d keys, %d were asked for", len(keys), c.batch)
		}
		if err != nil {
			return nil, 0, err
		}
		return keys, 0, nil
	case resp.StatusCode == nethttp.StatusServiceUnavailable:
		if bytes.HasPrefix(body, []byte(exhaustedReason)) {
			return nil, 0, fmt.Errorf("%w: %s", ErrExhausted, strings.TrimSpace(string(body)))
		}
		return nil, retryAfter(resp.Header.Get("Retry-After")),
			fmt.Errorf("mini-forge: 503: %s", strings.TrimSpace(string(body)))
	case resp.StatusCode >= 400 && resp.StatusCode < 500 &&
		resp.StatusCode != nethttp.StatusTooManyRequests &&
		resp.StatusCode != nethttp.StatusRequestTimeout:
		return nil, 0, &StatusError{Status: resp.StatusCode, Body: string(body)}
	default:
		return nil, retryAfter(resp.Header.Get("Retry-After")),
			fmt.Errorf("mini-forge: GET /get-keys answered %d: %s", resp.StatusCode,
				strings.TrimSpace(string(body)))
	}
}

// retryAfter reads a Retry-After in seconds; 1 s when absent or not a
// number (the frontend always sends seconds).
func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		if s == 0 {
			return minBackoff
		}
		return time.Duration(s) * time.Second
	}
	return time.Second
}

// parseKeys splits a /get-keys body: lines of one length, each of
// printable ASCII without spaces, each ended by '\n', as many as
// X-Key-Count says (when present). Anything else is an error and no key of
// the body is used.
func parseKeys(body []byte, count string) ([]string, error) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, fmt.Errorf("mini-forge: /get-keys body does not end with a newline (%d bytes)", len(body))
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	if count != "" && count != strconv.Itoa(len(lines)) {
		return nil, fmt.Errorf("mini-forge: /get-keys sent %d keys, X-Key-Count says %s",
			len(lines), count)
	}
	for i, k := range lines {
		if len(k) == 0 || len(k) != len(lines[0]) {
			return nil, fmt.Errorf("mini-forge: /get-keys line %d has %d characters, line 1 has %d",
				i+1, len(k), len(lines[0]))
		}
		for j := 0; j < len(k); j++ {
			if k[j] <= ' ' || k[j] > '~' {
				return nil, fmt.Errorf("mini-forge: /get-keys line %d is not a key: %q", i+1, k)
			}
		}
	}
	return lines, nil
}
