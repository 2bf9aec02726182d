"""miniforge: clients for mini-forge, standard library only.

ShmClient pops keys straight from the broker's shared-memory ring on the
broker's host (ctypes over libforge-client); HttpClient serves keys from a
local buffer that one background thread refills with GET /get-keys.

Keys handed out are the caller's: a key not used is a gap, never given back
(a returned key could be one served to someone else). Both clients hand out
every key at most once.
"""

from miniforge.errors import (
    BadSegmentError,
    BufferTooSmallError,
    ClosedError,
    EmptyError,
    ExhaustedError,
    ForgeError,
    HttpStatusError,
    InvalidArgumentError,
    NoBrokerError,
    NoNamespaceError,
    OutOfMemoryError,
)
from miniforge.http import HttpClient
from miniforge.shm import ShmClient

__version__ = "0.1.0"

__all__ = [
    "BadSegmentError",
    "BufferTooSmallError",
    "ClosedError",
    "EmptyError",
    "ExhaustedError",
    "ForgeError",
    "HttpClient",
    "HttpStatusError",
    "InvalidArgumentError",
    "NoBrokerError",
    "NoNamespaceError",
    "OutOfMemoryError",
    "ShmClient",
]
