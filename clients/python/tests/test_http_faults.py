"""HttpClient against a server that misbehaves the way the real frontend
can (503 + Retry-After, "key space exhausted") or the network can (a reset
mid-body), imitated by conftest's fake_server."""

import time

import pytest

from conftest import (EXHAUSTED_BODY, keys_answer, raw_answer, reset_answer,
                      unavailable_answer, wait_until)
from miniforge import ClosedError, EmptyError, ExhaustedError, HttpClient


def batch(tag, n=10):
    return [f"{tag}{i:04d}" for i in range(n)]


def take(client, n, timeout=5):
    return [client.get_key(timeout=timeout) for _ in range(n)]


def test_a_refill_reset_mid_body_is_dropped_and_retried_as_a_new_request(fake_server):
    # The first answer announces 10 keys and is cut after 4 and a half:
    # those keys are gaps, never handed out, and never merged with the retry.
    srv = fake_server([reset_answer(batch("cutAAA"), 4 * 11 + 5),
                       keys_answer(batch("goodBB")), keys_answer(batch("nextCC"))])
    client = HttpClient(srv.url, batch=10, low=1)
    try:
        got = take(client, 10)
    finally:
        client.close()
    assert got == batch("goodBB")
    assert len(srv.requests) >= 2


def test_a_body_that_is_not_keys_is_dropped(fake_server):
    bad = raw_answer("HTTP/1.1 200 OK", {"X-Key-Count": "3"},
                     b"abcdefg\nab<cdef\nabcdefg\n")
    short = raw_answer("HTTP/1.1 200 OK", {"X-Key-Count": "3"}, b"abcdefg\n")
    srv = fake_server([bad, short, keys_answer(batch("goodBB", 3))])
    with HttpClient(srv.url, batch=3, low=1) as client:
        assert take(client, 3) == batch("goodBB", 3)


def test_503_retry_after_is_honoured_while_the_buffer_is_served(fake_server):
    srv = fake_server([keys_answer(batch("firstA")), unavailable_answer(),
                       keys_answer(batch("laterB"))])
    client = HttpClient(srv.url, batch=10, low=5)
    try:
        wait_until(lambda: client.buffered() == 10, 5, "first refill")
        started = time.monotonic()
        first = take(client, 10, timeout=0.5)  # served from the buffer
        served_in = time.monotonic() - started
        later = take(client, 10)  # waits out Retry-After, then comes
    finally:
        client.close()
    assert first == batch("firstA")
    assert later == batch("laterB")
    assert served_in < 0.5
    (t503, _, _), (tnext, _, _) = srv.requests[1], srv.requests[2]
    assert tnext - t503 >= 0.95, "the refill after a 503 waited Retry-After: 1"


def test_an_empty_buffer_waits_for_its_timeout_then_empty_error(fake_server):
    srv = fake_server([unavailable_answer(retry_after="1")])
    with HttpClient(srv.url, batch=10, low=5) as client:
        started = time.monotonic()
        with pytest.raises(EmptyError):
            client.get_key(timeout=0.3)
        assert time.monotonic() - started >= 0.3
    assert len(srv.requests) == 1, "no refill before Retry-After ran out"


def test_exhausted_is_distinct_sticky_and_ends_the_refills(fake_server):
    srv = fake_server([keys_answer(batch("lastAA", 4)),
                       unavailable_answer(EXHAUSTED_BODY)])
    client = HttpClient(srv.url, batch=4, low=4)
    try:
        assert take(client, 4) == batch("lastAA", 4)
        for _ in range(2):
            with pytest.raises(ExhaustedError, match="key space exhausted"):
                client.get_key(timeout=5)
        assert not isinstance(ExhaustedError("x"), EmptyError)
        requests = len(srv.requests)
        time.sleep(0.2)  # would be time for more refills, were there any
        assert len(srv.requests) == requests == 2
    finally:
        client.close()


def test_close_reports_the_dropped_keys_and_later_calls_fail(fake_server):
    srv = fake_server([keys_answer(batch("dropAA")), unavailable_answer()])
    client = HttpClient(srv.url, batch=10, low=5)
    wait_until(lambda: client.buffered() == 10, 5, "first refill")
    assert take(client, 3) == batch("dropAA")[:3]
    assert client.close() == 7
    with pytest.raises(ClosedError):
        client.get_key(timeout=0)
    assert client.close() == 0


def test_token_and_namespace_go_into_every_refill(fake_server):
    srv = fake_server([keys_answer(batch("nsAAAA", 5))])
    with HttpClient(srv.url + "/", namespace="orders", token="s3cret-token",
                    batch=5, low=1) as client:
        client.get_key(timeout=5)
    _, path, headers = srv.requests[0]
    assert path == "/get-keys?count=5&ns=orders"
    assert headers["Authorization"] == "Bearer s3cret-token"


@pytest.mark.parametrize("kwargs", [dict(batch=0), dict(low=0), dict(batch=5, low=6)])
def test_bad_arguments_say_what_is_allowed(kwargs):
    with pytest.raises(ValueError, match="give a whole number"):
        HttpClient("http://127.0.0.1:1", **kwargs)
    with pytest.raises(ValueError, match="base_url"):
        HttpClient("ftp://x")


def test_a_keep_alive_connection_the_server_closed_is_replaced(fake_server):
    def then_close(h, keys=batch("onceAA", 5)):
        h.wfile.write(h.keys(keys))
        h.close_connection = True  # as an idle keep-alive timeout would
    srv = fake_server([then_close, keys_answer(batch("thenBB", 5))])
    with HttpClient(srv.url, batch=5, low=1) as client:
        assert take(client, 10) == batch("onceAA", 5) + batch("thenBB", 5)
