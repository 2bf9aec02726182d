"""HttpClient: serves keys from a local buffer that ONE background thread
refills with GET /get-keys?count=<batch>[&ns=NS] whenever it holds fewer
than `low` keys.

Contract (shared with the Go client, CLIENT-SPEC "Buffered HTTP client"):
  - get_key() never waits on the network while the buffer has keys.
  - 503: the refiller waits Retry-After seconds before its next request;
    the buffer keeps being served, and callers on an empty buffer wait
    (up to their timeout) rather than fail at once.
  - 503 "key space exhausted": ExhaustedError once the buffer is empty,
    for good (sticky; the refiller stops).
  - A key is handed out at most once: keys enter the buffer only from a
    complete, valid body (as many lines as X-Key-Count, at most `batch`,
    each a well-formed key, all of one length). A refill that fails after
    the server may have sent keys (a reset mid-body) is dropped whole and
    retried as a new request: the partial keys are gaps, never merged.
  - A 4xx answer (bad token, namespace not served) is HttpStatusError once
    the buffer is empty, for good.
  - close() stops the refiller and returns how many buffered keys were
    dropped: they are gaps, never returned to the server (a returned key
    could be one served to someone else).
"""

import collections
import http.client
import re
import socket
import threading
import time
import urllib.parse

from miniforge.errors import (
    ClosedError,
    EmptyError,
    ExhaustedError,
    ForgeError,
    HttpStatusError,
)

_KEY = re.compile(rb"[A-Za-z0-9_-]{1,64}")
_EXHAUSTED = b"key space exhausted"
# Waits after a failed request that did not say how long (reset, refused,
# bad body): none after the first failure in a row (a keep-alive connection
# the server closed while idle), then doubling from the first to the last.
_BACKOFF_FIRST = 0.05
_BACKOFF_LAST = 2.0
_IO_TIMEOUT = 10.0


class _Retry(Exception):
    """A refill failed for now; retry after .wait seconds."""

    def __init__(self, why, wait=None):
        super().__init__(why)
        self.wait = wait


def parse_keys(body, announced, batch):
    """The keys of a complete /get-keys body; _Retry when it is not a valid
    answer to a request for `batch` keys."""
    if not body.endswith(b"\n"):
        raise _Retry("body does not end with a newline")
    lines = body[:-1].split(b"\n")
    if len(lines) > batch:
        raise _Retry(f"{len(lines)} keys for count={batch}")
    if announced is not None and announced != str(len(lines)):
        raise _Retry(f"X-Key-Count {announced!r} but {len(lines)} keys")
    width = len(lines[0])
    for line in lines:
        if len(line) != width or not _KEY.fullmatch(line):
            raise _Retry(f"not a key: {line[:80]!r}")
    return [line.decode() for line in lines]


def _retry_after(value):
    """Seconds from a Retry-After header (delay-seconds); 1 when absent or
    not a number (an HTTP date is not worth parsing here)."""
    try:
        return max(0.0, float(int(value)))
    except (TypeError, ValueError):
        return 1.0


class HttpClient:
    """Keys from base_url (e.g. "http://127.0.0.1:8080"), namespace None for
    default, token for AUTH_TOKEN servers; refills `batch` keys at a time
    when fewer than `low` are buffered."""

    def __init__(self, base_url, namespace=None, token=None, batch=100, low=20):
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch={batch!r}: give a whole number >= 1 "
                             "(at most the server's MAX_BATCH)")
        if not isinstance(low, int) or not 1 <= low <= batch:
            raise ValueError(f"low={low!r}: give a whole number in 1..batch ({batch})")
        url = urllib.parse.urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"base_url={base_url!r}: give http://HOST[:PORT][/PATH] "
                             "or https://...")
        self._url = url
        query = {"count": str(batch)}
        if namespace is not None:
            query["ns"] = namespace
        self._target = (url.path.rstrip("/") + "/get-keys?" +
                        urllib.parse.urlencode(query))
        self._headers = {"Accept": "text/plain"}
        if token is not None:
            self._headers["Authorization"] = "Bearer " + token
        self._batch = batch
        self._low = low

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._keys = collections.deque()
        self._closed = False
        self._failure = None  # sticky: ExhaustedError or HttpStatusError
        self._conn = None  # the refiller's connection (close() shuts it)
        self._refills = 0
        self._thread = threading.Thread(target=self._refill_loop,
                                        name="miniforge-refill", daemon=True)
        self._thread.start()

    # ----- callers -----

    def get_key(self, timeout=None):
        """The next key. Never waits on the network while keys are
        buffered; on an empty buffer waits up to timeout seconds (None:
        until one comes), then EmptyError. ExhaustedError / HttpStatusError
        once the buffer is empty and the server said so; ClosedError after
        close()."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not self._keys:
                if self._closed:
                    raise ClosedError("the HttpClient is closed")
                if self._failure is not None:
                    raise self._failure
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise EmptyError(f"no key came within {timeout} s")
                self._changed.wait(left)
            key = self._keys.popleft()
            if len(self._keys) < self._low:
                self._changed.notify_all()
            return key

    def buffered(self):
        """How many keys are buffered now."""
        with self._lock:
            return len(self._keys)

    def refills(self):
        """How many refill bodies were accepted so far."""
        with self._lock:
            return self._refills

    def close(self):
        """Stops the refiller and returns how many buffered keys were
        dropped (gaps: never returned to the server). A request in flight is
        cut; its keys are gaps too."""
        with self._lock:
            self._closed = True
            conn = self._conn
            self._changed.notify_all()
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            dropped = len(self._keys)
            self._keys.clear()
            return dropped

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----- the refiller -----

    def _refill_loop(self):
        backoff = 0.0
        try:
            while self._wait_for_need():
                try:
                    keys = self._fetch()
                except _Retry as r:
                    self._drop_connection()
                    wait = r.wait
                    if wait is None:
                        wait = backoff
                        backoff = min(max(backoff * 2, _BACKOFF_FIRST), _BACKOFF_LAST)
                    self._sleep(wait)
                    continue
                backoff = 0.0
                with self._lock:
                    if self._closed:
                        return
                    self._keys.extend(keys)
                    self._refills += 1
                    self._changed.notify_all()
        except (ExhaustedError, HttpStatusError) as e:
            self._fail(e)
        except Exception as e:  # a bug: callers must not wait forever
            self._fail(ForgeError(f"the refill thread stopped: {e!r}"))
            raise
        finally:
            self._drop_connection()

    def _fail(self, error):
        """Callers on an empty buffer get `error` from now on."""
        with self._lock:
            self._failure = error
            self._changed.notify_all()

    def _wait_for_need(self):
        """Blocks until the buffer holds fewer than low keys; False once
        closed."""
        with self._lock:
            while not self._closed and len(self._keys) >= self._low:
                self._changed.wait()
            return not self._closed

    def _sleep(self, seconds):
        """Waits `seconds` (the buffer keeps being served); cut short by
        close()."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def _connection(self):
        with self._lock:
            if self._closed:
                raise _Retry("closed", 0)
            if self._conn is None:
                cls = (http.client.HTTPSConnection if self._url.scheme == "https"
                       else http.client.HTTPConnection)
                self._conn = cls(self._url.hostname, self._url.port,
                                 timeout=_IO_TIMEOUT)
            return self._conn

    def _drop_connection(self):
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _fetch(self):
        """One GET /get-keys: the keys of a complete valid 200 body; raises
        _Retry (try again), ExhaustedError or HttpStatusError (for good)."""
        conn = self._connection()
        try:
            conn.request("GET", self._target, headers=self._headers)
            resp = conn.getresponse()
            body = resp.read()  # IncompleteRead when cut mid-body
        except (OSError, http.client.HTTPException) as e:
            # The server may have sent keys: they are gaps, and the retry is
            # a new request.
            raise _Retry(f"request failed: {e!r}") from e
        if resp.will_close:
            self._drop_connection()
        if resp.status == 200:
            return parse_keys(body, resp.getheader("X-Key-Count"), self._batch)
        reason = body.decode(errors="replace").strip().splitlines()
        reason = reason[0] if reason else resp.reason
        if resp.status == 503:
            if body.startswith(_EXHAUSTED):
                raise ExhaustedError(reason)
            raise _Retry(reason, _retry_after(resp.getheader("Retry-After")))
        if 400 <= resp.status < 500:
            raise HttpStatusError(resp.status, reason)
        raise _Retry(f"HTTP {resp.status}: {reason}")
