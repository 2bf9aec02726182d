//go:build forgeshm

// Package shm pops mini-forge keys straight from the broker's shared-memory
// ring on the same host, through libforge-client (cgo; build with
// -tags forgeshm; the installed forge-client.pc must be on pkg-config's
// path: PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig, and the library on the
// loader's: ldconfig, -ldflags="-r $PREFIX/lib" or LD_LIBRARY_PATH).
//
// Contract (that of include/forge/client.h): every pop is a lock-free claim
// on the ring, so a key is handed out once across all HTTP workers and
// clients; a process killed mid-claim loses only the keys it had claimed
// (gaps, never repeats). The process needs the access an HTTP worker needs
// to the segment (its owner, or its group with SHM_MODE=0660). One Client
// may be used from any number of goroutines. Keys not used are gaps: never
// give them back.
package shm

/*
#cgo pkg-config: forge-client
#include <stdlib.h>
#include <string.h>
#include <forge/client.h>

// The library's detail text is thread-local and a goroutine may change
// threads between two cgo calls: copy it out in the same call.
static void forge_go_detail(int rc, char *detail, size_t cap) {
  if (rc != FORGE_OK) {
    strncpy(detail, forge_last_error(), cap - 1);
    detail[cap - 1] = '\0';
  }
}

static int forge_go_open(const char *name, forge_client **out, char *detail,
                         size_t cap) {
  int rc = forge_client_open(name, out);
  forge_go_detail(rc, detail, cap);
  return rc;
}

static int forge_go_get_key(forge_client *c, const char *ns, char *buf,
                            size_t n, int timeout_ms, char *detail, size_t cap) {
  int rc = forge_client_get_key(c, ns, buf, n, timeout_ms);
  forge_go_detail(rc, detail, cap);
  return rc;
}

static int forge_go_key_length(forge_client *c, const char *ns, size_t *length,
                               char *detail, size_t cap) {
  int rc = forge_client_key_length(c, ns, length);
  forge_go_detail(rc, detail, cap);
  return rc;
}

static int forge_go_get_keys(forge_client *c, const char *ns, size_t n,
                             char *buf, size_t bufcap, size_t *got,
                             int timeout_ms, char *detail, size_t cap) {
  int rc = forge_client_get_keys(c, ns, n, buf, bufcap, got, timeout_ms);
  forge_go_detail(rc, detail, cap);
  return rc;
}
*/
import "C"

import (
	"errors"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// The library's result codes, one error each; match them with errors.Is.
// The errors returned are *Error values carrying forge_last_error()'s text.
var (
	ErrEmpty        = errors.New("no key came in time (the ring is empty)")
	ErrExhausted    = errors.New("the namespace's key space is used up")
	ErrNoBroker     = errors.New("no broker: no segment, or an empty ring and no broker alive")
	ErrBadSegment   = errors.New("not a usable mini-forge segment")
	ErrNoNamespace  = errors.New("no such namespace")
	ErrRange        = errors.New("the buffer cannot hold what was asked")
	ErrInvalid      = errors.New("a bad argument")
	ErrNoMemory     = errors.New("out of memory")
	errUnknownCode  = errors.New("unknown libforge-client result code")
	codeToSentinels = map[C.int]error{
		C.FORGE_EEMPTY: ErrEmpty, C.FORGE_EEXHAUSTED: ErrExhausted,
		C.FORGE_ENOBROKER: ErrNoBroker, C.FORGE_EBADSEGMENT: ErrBadSegment,
		C.FORGE_ENONS: ErrNoNamespace, C.FORGE_ERANGE: ErrRange,
		C.FORGE_EINVAL: ErrInvalid, C.FORGE_ENOMEM: ErrNoMemory,
	}
)

// ErrClosed: a call after Close.
var ErrClosed = errors.New("mini-forge shm client closed")

// Error is a failing libforge-client call: its FORGE_E* code, the matching
// sentinel (errors.Is) and the library's one-line detail.
type Error struct {
	Code   int    // the FORGE_E* code
	Detail string // forge_last_error(), else forge_strerror(Code)
	kind   error
}

func (e *Error) Error() string { return "mini-forge: " + e.Detail }
func (e *Error) Unwrap() error { return e.kind }

const detailCap = 512

func check(rc C.int, detail *[detailCap]C.char) error {
	if rc == C.FORGE_OK {
		return nil
	}
	kind, ok := codeToSentinels[rc]
	if !ok {
		kind = errUnknownCode
	}
	text := C.GoString(&detail[0])
	if text == "" {
		text = C.GoString(C.forge_strerror(rc))
	}
	return &Error{Code: int(rc), Detail: text, kind: kind}
}

// Client is an open libforge-client handle.
type Client struct {
	// Timeout is how long GetKey and GetKeys wait on an empty ring (default
	// 1 s; 0 never waits; negative waits until a key comes or none can).
	Timeout time.Duration

	mu sync.RWMutex // Close takes it exclusively; calls share it
	c  *C.forge_client
}

// Open attaches to the segments named name ("": $SHM_NAME, else
// "mini-forge").
func Open(name string) (*Client, error) {
	var cname *C.char
	if name != "" {
		cname = C.CString(name)
		defer C.free(unsafe.Pointer(cname))
	}
	var detail [detailCap]C.char
	var c *C.forge_client
	if err := check(C.forge_go_open(cname, &c, &detail[0], detailCap), &detail); err != nil {
		return nil, err
	}
	return &Client{Timeout: time.Second, c: c}, nil
}

func (c *Client) timeoutMs() C.int {
	if c.Timeout < 0 {
		return -1
	}
	return C.int(c.Timeout / time.Millisecond)
}

// cNamespace: nil for the default namespace; free it with freeNamespace.
func cNamespace(ns string) *C.char {
	if ns == "" {
		return nil
	}
	return C.CString(ns)
}

func freeNamespace(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

// GetKey pops one key of namespace ns ("": default).
func (c *Client) GetKey(ns string) (string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.c == nil {
		return "", ErrClosed
	}
	cns := cNamespace(ns)
	defer freeNamespace(cns)
	var buf [256]C.char
	var detail [detailCap]C.char
	rc := C.forge_go_get_key(c.c, cns, &buf[0], C.size_t(len(buf)), c.timeoutMs(),
		&detail[0], detailCap)
	if err := check(rc, &detail); err != nil {
		return "", err
	}
	return C.GoString(&buf[0]), nil
}

// GetKeys pops up to n keys of namespace ns ("": default): fewer when the
// wait ran out after some came.
func (c *Client) GetKeys(ns string, n int) ([]string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.c == nil {
		return nil, ErrClosed
	}
	if n <= 0 {
		return nil, &Error{Code: int(C.FORGE_EINVAL), kind: ErrInvalid,
			Detail: "GetKeys: n must be at least 1"}
	}
	cns := cNamespace(ns)
	defer freeNamespace(cns)
	var detail [detailCap]C.char
	var length C.size_t
	if err := check(C.forge_go_key_length(c.c, cns, &length, &detail[0], detailCap),
		&detail); err != nil {
		return nil, err
	}
	size := C.size_t(n)*(length+1) + 1
	buf := (*C.char)(C.malloc(size))
	if buf == nil {
		return nil, &Error{Code: int(C.FORGE_ENOMEM), kind: ErrNoMemory,
			Detail: "GetKeys: cannot allocate the key buffer"}
	}
	defer C.free(unsafe.Pointer(buf))
	var got C.size_t
	rc := C.forge_go_get_keys(c.c, cns, C.size_t(n), buf, size, &got, c.timeoutMs(),
		&detail[0], detailCap)
	if err := check(rc, &detail); err != nil {
		return nil, err
	}
	text := C.GoStringN(buf, C.int(got*(length+1)))
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")[:got], nil
}

// Close releases the client's stats slots and mappings; later calls
// return ErrClosed. Safe to call twice.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil {
		C.forge_client_close(c.c)
		c.c = nil
	}
	return nil
}
