"""Slack's Socket Mode side, on 127.0.0.1: a minimal WebSocket server speaking Slack's envelopes.

    socket = SocketModeStandIn(app_token="xapp-test").start()
    slack.socket_mode = socket                  # the Web API stand-in then answers apps.connections.open
    socket.wait_connected()
    socket.send_envelope("slash_commands", {...command fields...})  -> envelope_id
    socket.wait_for_ack(envelope_id) -> the client's ack payload

Only what Slack's Socket Mode needs (RFC 6455): the opening handshake, unfragmented text
frames both ways (client frames masked), ping → pong, close; Slack's `hello` message goes out
as soon as a client connects.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
from typing import Any

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


def _frame(opcode: int, payload: bytes) -> bytes:
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def _read_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_frame(conn: socket.socket) -> tuple[int, bytes]:
    b0, b1 = _read_exact(conn, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", _read_exact(conn, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", _read_exact(conn, 8))[0]
    mask = _read_exact(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
    payload = bytes(c ^ mask[i % 4] for i, c in enumerate(_read_exact(conn, n)))
    return b0 & 0x0F, payload


class SocketModeStandIn:
    def __init__(self, app_token: str = "xapp-1-test") -> None:
        self.app_token = app_token
        self.acks: dict[str, Any] = {}
        self.connections: list[socket.socket] = []
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._server: socket.socket | None = None

    def start(self) -> "SocketModeStandIn":
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(8)
        threading.Thread(target=self._accept_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"ws://127.0.0.1:{self._server.getsockname()[1]}/link"

    def stop(self) -> None:
        for conn in list(self.connections):
            try:
                conn.close()
            except OSError:
                pass
        if self._server:
            self._server.close()

    def _accept_forever(self) -> None:
        assert self._server is not None
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in request.decode().split("\r\n")[1:] if ":" in line)}
            accept = base64.b64encode(hashlib.sha1((headers["sec-websocket-key"] + _GUID).encode()).digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            hello = {"type": "hello", "num_connections": 1, "debug_info": {"host": "standin"},
                     "connection_info": {"app_id": "A111"}}
            conn.sendall(_frame(_TEXT, json.dumps(hello).encode()))
            with self._cond:
                self.connections.append(conn)
                self._cond.notify_all()
            while True:
                opcode, payload = _read_frame(conn)
                if opcode == _PING:
                    conn.sendall(_frame(_PONG, payload))
                elif opcode == _CLOSE:
                    conn.sendall(_frame(_CLOSE, payload[:2]))
                    return
                elif opcode == _TEXT:
                    message = json.loads(payload)
                    with self._cond:
                        self.acks[message.get("envelope_id")] = message.get("payload")
                        self._cond.notify_all()
        except (ConnectionError, OSError, KeyError):
            return
        finally:
            with self._cond:
                if conn in self.connections:
                    self.connections.remove(conn)
            conn.close()

    def wait_connected(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.connections:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the bot never opened its Socket Mode connection")
                self._cond.wait(left)

    def send_envelope(self, kind: str, payload: dict[str, Any], retry_attempt: int = 0) -> str:
        envelope_id = f"env-{next(self._ids)}"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api", "retry_attempt": retry_attempt,
                    "retry_reason": "timeout" if retry_attempt else ""}
        with self._cond:
            conn = self.connections[-1]
        conn.sendall(_frame(_TEXT, json.dumps(envelope).encode()))
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while envelope_id not in self.acks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for {envelope_id} within {timeout}s")
                self._cond.wait(left)
            return self.acks[envelope_id]
