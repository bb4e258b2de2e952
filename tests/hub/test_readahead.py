"""The read-ahead socket hands paho the same bytes, in order, with fewer reads of the real socket."""

from __future__ import annotations

import socket

import pytest

from hub.ingest.readahead import ReadAhead


def test_bytes_come_out_in_order_and_pending_counts_what_is_buffered() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.setblocking(False)
        ra = ReadAhead(b, size=8)
        a.sendall(b"0123456789abc")
        assert ra.recv(1) == b"0"
        assert ra.pending() == 7  # one read of 8 bytes
        assert ra.recv(3) == b"123"
        assert ra.recv(10) == b"4567"  # never more than is buffered
        assert ra.recv(10) == b"89abc"
        assert ra.pending() == 0
        with pytest.raises(BlockingIOError):  # nothing there: paho waits for the next readable event
            ra.recv(1)
        a.shutdown(socket.SHUT_WR)
        assert ra.recv(1) == b""  # end of stream, as paho expects it


def test_everything_but_recv_goes_to_the_real_socket() -> None:
    a, b = socket.socketpair()
    with a, b:
        ra = ReadAhead(b)
        assert ra.fileno() == b.fileno()
        ra.sendall(b"x")
        assert a.recv(1) == b"x"
