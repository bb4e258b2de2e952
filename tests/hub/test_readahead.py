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


def test_whole_packets_takes_complete_packets_and_leaves_a_partial_one_for_recv() -> None:
    long_body = bytes(200)  # remaining length 200: two length bytes (0xC8 0x01)
    stream = b"\x30\x03abc" + b"\xd0\x00" + b"\x32\xc8\x01" + long_body + b"\x40\x02\x00"  # PUBLISH, PINGRESP, ...
    a, b = socket.socketpair()
    with a, b:
        b.setblocking(False)
        ra = ReadAhead(b)
        a.sendall(stream)
        assert ra.recv(5) == b"\x30\x03abc"  # paho's reader took the first packet itself
        got = list(ra.whole_packets())
        assert got == [(0xD0, b""), (0x32, long_body)]
        assert ra.pending() == 3  # the PUBACK missing its last byte stays for paho's byte-by-byte reader
        assert ra.recv(3) == b"\x40\x02\x00"


def test_whole_packets_leaves_a_malformed_length_to_paho() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.setblocking(False)
        ra = ReadAhead(b)
        a.sendall(b"\x30\xff\xff\xff\xff\x01" + bytes(10))  # five length bytes: MQTT allows four
        ra.recv(0)  # fills the buffer, takes nothing
        assert list(ra.whole_packets()) == []
        assert ra.pending() == 16
