"""The errors of both clients: one class per FORGE_E* code of
libforge-client (include/forge/client.h), all sharing ForgeError, plus the
HTTP client's own (ClosedError, HttpStatusError).

The HTTP client raises the same classes for the same meaning: EmptyError
when no key came within the timeout, ExhaustedError once the key space is
used up (for good).
"""


# FORGE_E* code -> its class, filled as the classes below are defined.
BY_CODE = {}


class ForgeError(Exception):
    """Base of every miniforge error; .code is the FORGE_E* code (0 when
    the error has no C counterpart). A subclass names its code:
    `class EmptyError(ForgeError, code=1)`."""

    code = 0

    def __init_subclass__(cls, code=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
            BY_CODE[code] = cls


class EmptyError(ForgeError, code=1):
    """No key came within the timeout (FORGE_EEMPTY)."""


class ExhaustedError(ForgeError, code=2):
    """The namespace's key space is used up: no more keys will come, ever
    (FORGE_EEXHAUSTED)."""


class NoBrokerError(ForgeError, code=3):
    """No segment under that name, or the ring is empty and no broker is
    alive (FORGE_ENOBROKER)."""


class BadSegmentError(ForgeError, code=4):
    """Not a mini-forge segment, another layout version, damaged, or not
    ours to read (FORGE_EBADSEGMENT)."""


class NoNamespaceError(ForgeError, code=5):
    """No such namespace: no segment for it (FORGE_ENONS)."""


class BufferTooSmallError(ForgeError, code=6):
    """The buffer cannot hold what was asked; nothing was taken
    (FORGE_ERANGE)."""


class InvalidArgumentError(ForgeError, ValueError, code=7):
    """A bad argument (FORGE_EINVAL)."""


class OutOfMemoryError(ForgeError, MemoryError, code=8):
    """Out of memory (FORGE_ENOMEM)."""


class ClosedError(ForgeError):
    """The client was closed."""


class HttpStatusError(ForgeError):
    """The server refused the request for good (a 4xx answer: bad token,
    namespace not served, bad count); .status and the server's one-line
    reason in the message."""

    def __init__(self, status, reason):
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status


def from_code(code, text):
    """The error for FORGE_E* code `code` with message `text`."""
    cls = BY_CODE.get(code, ForgeError)
    err = cls(text)
    if cls is ForgeError:
        err.code = code
    return err
