"""Read the MQTT socket ahead, so paho parses many messages per system call.

paho-mqtt reads every packet with three or more ``recv`` calls (the command
byte, each length byte, then the body) and, driven by aiomqtt, handles one
packet per readiness event of the event loop: per message, an ``epoll`` round
and several system calls. Profiling the hub under load put a quarter of its
main thread there.

:class:`ReadAhead` wraps the connected plain socket: ``recv`` is served from a
buffer refilled with one ``recv(64 KiB)``. aiomqtt's read callback keeps
calling paho for as long as the socket reports ``pending()`` bytes (the hook it
has for TLS sockets, which buffer the same way), so buffered messages are
parsed before control returns to the event loop. Everything else (``send``,
``fileno``, ``close``...) goes to the real socket. TLS sockets are left alone.

Errors: none of its own; the real socket's (``BlockingIOError`` when nothing
is there, ``OSError``) pass through to paho unchanged.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import aiomqtt

READ_AHEAD_BYTES = 65_536


class ReadAhead:
    """A socket whose ``recv`` reads up to ``size`` bytes at a time."""

    def __init__(self, sock: socket.socket, size: int = READ_AHEAD_BYTES) -> None:
        self._sock = sock
        self._size = size
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        """Up to ``bufsize`` bytes, from the buffer or one read of the socket (``b""`` at end of stream)."""
        if self._pos >= len(self._buf):
            self._buf = self._sock.recv(self._size)  # BlockingIOError when empty: paho waits for the next event
            self._pos = 0
        out = self._buf[self._pos : self._pos + bufsize]
        self._pos += len(out)
        return out

    def pending(self) -> int:
        """Bytes read from the socket but not yet taken."""
        return len(self._buf) - self._pos

    def whole_packets(self) -> Iterator[tuple[int, bytes]]:
        """Take every complete MQTT packet in the buffer: its first byte and its body (after the remaining length).

        Stops at a packet not wholly buffered yet (or a remaining length over
        4 bytes, which paho's own reader then refuses), leaving it for ``recv``.
        """
        buf, pos, end = self._buf, self._pos, len(self._buf)
        while pos + 1 < end:
            length, shift, i = 0, 0, pos + 1
            while i < end and shift <= 21:  # MQTT 3.1.1 §2.2.3: at most 4 length bytes
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
            else:
                return  # the length is not all here (or is malformed): the byte-by-byte reader takes over
            if i + length > end:
                return
            self._pos = i + length
            yield buf[pos], buf[i : i + length]
            pos = self._pos

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


def read_ahead(client: aiomqtt.Client) -> bool:
    """Wrap a connected client's plain socket in :class:`ReadAhead`; return whether it did."""
    paho = client._client  # aiomqtt exposes no socket hook
    sock = paho.socket()
    if not isinstance(sock, socket.socket) or isinstance(sock, ssl.SSLSocket):
        return False
    paho._sock = ReadAhead(sock)  # type: ignore[assignment]
    return True
