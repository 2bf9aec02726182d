"""ShmClient: pops keys straight from the broker's shared-memory ring, on
the broker's host, through libforge-client (ctypes).

The library is loaded from $FORGE_CLIENT_LIB (the full path of
libforge-client.so) when set, else found by ctypes.util.find_library. It
needs the access a worker needs: the segment's owner, or a member of its
group when the broker runs with SHM_MODE=0660. One ShmClient may be used
from many threads at once (ctypes drops the GIL during each call); do not
close it while other threads still use it, nor use it in a child after
fork().
"""

import ctypes
import ctypes.util
import os
import threading

from miniforge.errors import ClosedError, from_code

_lib = None
_lib_lock = threading.Lock()

# Room for one key: a prefix (16), the digits (at most 63 bits' worth) and
# a check character fit many times over.
_KEY_CAP = 128


def _declare(lib):
    c_client = ctypes.c_void_p
    lib.forge_client_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(c_client)]
    lib.forge_client_open.restype = ctypes.c_int
    lib.forge_client_get_key.argtypes = [
        c_client, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
    lib.forge_client_get_key.restype = ctypes.c_int
    lib.forge_client_get_keys.argtypes = [
        c_client, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
        ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t), ctypes.c_int]
    lib.forge_client_get_keys.restype = ctypes.c_int
    lib.forge_client_close.argtypes = [c_client]
    lib.forge_client_close.restype = None
    lib.forge_strerror.argtypes = [ctypes.c_int]
    lib.forge_strerror.restype = ctypes.c_char_p
    lib.forge_last_error.argtypes = []
    lib.forge_last_error.restype = ctypes.c_char_p
    lib.forge_client_key_length.argtypes = [
        c_client, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)]
    lib.forge_client_key_length.restype = ctypes.c_int
    return lib


def load_library():
    """The loaded libforge-client; OSError saying where it was looked for
    when it cannot be loaded."""
    global _lib
    with _lib_lock:
        if _lib is None:
            path = os.environ.get("FORGE_CLIENT_LIB") or ctypes.util.find_library(
                "forge-client")
            if not path:
                raise OSError(
                    "libforge-client not found: set FORGE_CLIENT_LIB to the full "
                    "path of libforge-client.so, or install it where the dynamic "
                    "linker looks (cmake --install)")
            try:
                _lib = _declare(ctypes.CDLL(path))
            except (OSError, AttributeError) as e:
                raise OSError(f"cannot load libforge-client from {path}: {e}") from e
        return _lib


def _encode(text, what):
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str or None, not {type(text).__name__}")
    return text.encode()


def _timeout_ms(timeout):
    """Seconds (None: wait until a key comes) as the library's timeout_ms."""
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError(f"timeout={timeout!r}: give seconds >= 0, or None to wait")
    return min(int(timeout * 1000), 2**31 - 1)


class ShmClient:
    """A consumer of the broker's ring, registered in its stats slots (kind
    "client"). shm_name None: $SHM_NAME, else "mini-forge"."""

    def __init__(self, shm_name=None):
        self._lib = load_library()
        handle = ctypes.c_void_p()
        self._check(self._lib.forge_client_open(_encode(shm_name, "shm_name"),
                                                ctypes.byref(handle)))
        self._handle = handle
        self._lengths = {}

    def _check(self, code):
        if code != 0:
            text = (self._lib.forge_last_error() or b"").decode(errors="replace")
            if not text:
                text = self._lib.forge_strerror(code).decode(errors="replace")
            raise from_code(code, text)

    def _live(self):
        if self._handle is None:
            raise ClosedError("the ShmClient is closed")
        return self._handle

    def get_key(self, ns=None, timeout=1.0):
        """One key of namespace ns (None: default). Waits up to timeout
        seconds on an empty ring (None: until a key comes or the broker is
        gone), then EmptyError."""
        buf = ctypes.create_string_buffer(_KEY_CAP)
        self._check(self._lib.forge_client_get_key(
            self._live(), _encode(ns, "ns"), buf, _KEY_CAP, _timeout_ms(timeout)))
        return buf.value.decode()

    def key_length(self, ns=None):
        """Characters of one key of namespace ns (prefix and check
        included)."""
        length = self._lengths.get(ns)
        if length is None:
            out = ctypes.c_size_t()
            self._check(self._lib.forge_client_key_length(
                self._live(), _encode(ns, "ns"), ctypes.byref(out)))
            length = self._lengths[ns] = out.value
        return length

    def get_keys(self, n, ns=None, timeout=1.0):
        """Up to n keys (a list): fewer when the wait ran out after some
        came; EmptyError when none came within timeout seconds."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n={n!r}: give a whole number of keys >= 1")
        cap = n * (self.key_length(ns) + 1) + 1
        buf = ctypes.create_string_buffer(cap)
        got = ctypes.c_size_t()
        self._check(self._lib.forge_client_get_keys(
            self._live(), _encode(ns, "ns"), n, buf, cap, ctypes.byref(got),
            _timeout_ms(timeout)))
        keys = buf.value.decode().split("\n")[: got.value]
        return keys

    def close(self):
        """Releases the stats slots and mappings; closing twice is fine."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.forge_client_close(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            self.close()
