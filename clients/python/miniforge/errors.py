"""The errors of both clients: one class per FORGE_E* code of
libforge-client (include/forge/client.h), all sharing ForgeError, plus the
HTTP client's own (ClosedError, HttpStatusError).

The HTTP client raises the same classes for the same meaning: EmptyError
when no key came within the timeout, ExhaustedError once the key space is
used up (for good).
"""


class ForgeError(Exception):
    """Base of every miniforge error; .code is the FORGE_E* code (0 when
    the error has no C counterpart)."""

    code = 0


class EmptyError(ForgeError):
    """No key came within the timeout (FORGE_EEMPTY)."""

    code = 1


class ExhaustedError(ForgeError):
    """The namespace's key space is used up: no more keys will come, ever
    (FORGE_EEXHAUSTED)."""

    code = 2


class NoBrokerError(ForgeError):
    """No segment under that name, or the ring is empty and no broker is
    alive (FORGE_ENOBROKER)."""

    code = 3


class BadSegmentError(ForgeError):
    """Not a mini-forge segment, another layout version, damaged, or not
    ours to read (FORGE_EBADSEGMENT)."""

    code = 4


class NoNamespaceError(ForgeError):
    """No such namespace: no segment for it (FORGE_ENONS)."""

    code = 5


class BufferTooSmallError(ForgeError):
    """The buffer cannot hold what was asked; nothing was taken
    (FORGE_ERANGE)."""

    code = 6


class InvalidArgumentError(ForgeError, ValueError):
    """A bad argument (FORGE_EINVAL)."""

    code = 7


class OutOfMemoryError(ForgeError, MemoryError):
    """Out of memory (FORGE_ENOMEM)."""

    code = 8


class ClosedError(ForgeError):
    """The client was closed."""


class HttpStatusError(ForgeError):
    """The server refused the request for good (a 4xx answer: bad token,
    namespace not served, bad count); .status and the server's one-line
    reason in the message."""

    def __init__(self, status, reason):
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status


BY_CODE = {
    cls.code: cls
    for cls in (
        EmptyError,
        ExhaustedError,
        NoBrokerError,
        BadSegmentError,
        NoNamespaceError,
        BufferTooSmallError,
        InvalidArgumentError,
        OutOfMemoryError,
    )
}


def from_code(code, text):
    """The error for FORGE_E* code `code` with message `text`."""
    cls = BY_CODE.get(code, ForgeError)
    err = cls(text)
    if cls is ForgeError:
        err.code = code
    return err
