"""HTTP(S) over connections pinned to vetted addresses, in the calling thread.

Standard-library `http.client` with keep-alive: no I/O thread exists for h5py's global lock
to deadlock against (remote-reads.md §2.2), no environment proxy is consulted (security.md
F8), and the socket goes to the address `ssrf.vet_url()` chose while Host and the TLS name
stay the link's host.  Redirects are followed by hand, each hop vetted again; credentials
(the Slack token) are sent on the first hop only and never follow a redirect.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urljoin

from bot.errors import ErrorCode
from bot.sources.base import (
    Forbidden,
    NotFound,
    SourceError,
    SourceTimeout,
    Unreachable,
)
from bot.sources.limits import ReadBudget
from bot.sources.ssrf import MAX_REDIRECTS, VettedURL, vet_url

USER_AGENT = "ckptbot (metadata reader; https://github.com/ckptbot)"
STREAM_CHUNK_BYTES = 256 * 1024  # a download is read in pieces so the byte budget can stop it
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


@dataclass
class Response:
    """A response whose headers are read and whose body is still on the wire."""

    url: VettedURL
    status: int
    headers: dict[str, str]
    raw: http.client.HTTPResponse = field(repr=False)
    sock: socket.socket | None = field(default=None, repr=False)
    redirected: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def read_all(self, budget: ReadBudget, limit: int | None = None) -> bytes:
        """The body, charged to the budget; never more than `limit` bytes."""
        out = bytearray()
        for chunk in self.iter_body(budget):
            out += chunk
            if limit is not None and len(out) > limit:
                raise Unreachable(f"The server sent more than the {limit} bytes asked for.")
        return bytes(out)

    def iter_body(self, budget: ReadBudget):
        while True:
            if self.sock is not None:
                self.sock.settimeout(budget.socket_timeout())  # the wall budget bounds a drip
            try:
                chunk = self.raw.read(STREAM_CHUNK_BYTES)
            except (socket.timeout, TimeoutError) as exc:
                raise SourceTimeout("The server stopped sending data.") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise Unreachable(f"The connection broke while reading: {exc}.") from exc
            if not chunk:
                return
            budget.charge_bytes(len(chunk))
            yield chunk


class PinnedClient:
    """Sends requests through the SSRF guard; one keep-alive connection per vetted origin."""

    def __init__(self, budget: ReadBudget, allowed_hosts: list[str] | tuple[str, ...] = (),
                 tls_context: ssl.SSLContext | None = None) -> None:
        self.budget = budget
        self.allowed_hosts = tuple(allowed_hosts)
        self.tls_context = tls_context or ssl.create_default_context()
        self._connections: dict[tuple[str, str, int, str], http.client.HTTPConnection] = {}

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def vet(self, url: str, previous: VettedURL | None = None) -> VettedURL:
        return vet_url(url, self.allowed_hosts, previous=previous)

    def request(self, url: str | VettedURL, method: str = "GET", headers: dict[str, str] | None = None,
                credentials: dict[str, str] | None = None) -> Response:
        """Send `method` to `url`, following up to MAX_REDIRECTS redirects, each vetted again.

        `credentials` go to the first hop only.  Status errors are not raised here; use
        `raise_for_status()`.
        """
        target = url if isinstance(url, VettedURL) else self.vet(url)
        extra = dict(credentials or {})
        for hop in range(MAX_REDIRECTS + 1):
            resp = self._send_once(target, method, {**(headers or {}), **extra})
            if resp.status not in REDIRECT_STATUSES:
                resp.redirected = hop > 0
                return resp
            location = resp.header("location")
            resp.raw.read(64 * 1024)  # drain a small redirect body so the connection can be reused
            resp.raw.close()
            if not location:
                raise Unreachable("The server answered with a redirect that goes nowhere.")
            target = self.vet(urljoin(target.url, location), previous=target)
            extra = {}  # never send credentials across a redirect
        raise SourceError(ErrorCode.LIMIT,
                          f"The link redirected more than {MAX_REDIRECTS} times; I stopped following it.")

    def _connection(self, target: VettedURL) -> http.client.HTTPConnection:
        key = (target.scheme, target.host, target.port, target.ip)
        conn = self._connections.get(key)
        if conn is None:
            if target.scheme == "https":
                conn = http.client.HTTPSConnection(target.host, target.port, context=self.tls_context)
            else:
                conn = http.client.HTTPConnection(target.host, target.port)
            ips = target.ips or (target.ip,)

            def connect_to_vetted_ip(address, timeout=None, source_address=None, *args, **kwargs):
                # http.client would resolve the host again; the socket must go to a vetted IP.
                error: OSError | None = None
                for ip in ips:
                    try:
                        return socket.create_connection((ip, address[1]), timeout, source_address)
                    except OSError as exc:
                        error = exc
                raise error or OSError("no vetted address")

            conn._create_connection = connect_to_vetted_ip  # type: ignore[attr-defined]
            self._connections[key] = conn
        conn.timeout = self.budget.socket_timeout()
        if conn.sock is not None:
            conn.sock.settimeout(conn.timeout)
        return conn

    def _send_once(self, target: VettedURL, method: str, headers: dict[str, str]) -> Response:
        self.budget.charge_request()
        all_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
        for attempt in (1, 2):  # a kept-alive connection the server closed gets one fresh retry
            conn = self._connection(target)
            try:
                conn.request(method, target.target, headers=all_headers)
                raw = conn.getresponse()
                break
            except (socket.timeout, TimeoutError) as exc:
                conn.close()
                raise SourceTimeout(f"{target.host} did not answer in time.") from exc
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady) as exc:
                conn.close()
                if attempt == 2:
                    raise Unreachable(f"{target.host} closed the connection: {exc}.") from exc
            except ssl.SSLError as exc:
                conn.close()
                raise Unreachable(f"The TLS connection to {target.host} failed: {exc}.") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise Unreachable(f"I could not connect to {target.host}: {exc}.") from exc
        headers_out = {k.lower(): v for k, v in raw.getheaders()}
        return Response(url=target, status=raw.status, headers=headers_out, raw=raw, sock=conn.sock)


def raise_for_status(resp: Response, what: str) -> None:
    """Translate an HTTP failure status into the source error a user can act on."""
    if resp.status < 400:
        return
    resp.raw.read(64 * 1024)
    resp.raw.close()
    if resp.status == 404 or resp.status == 410:
        raise NotFound(f"{what} does not exist (HTTP {resp.status}).")
    if resp.status in (401, 403):
        raise Forbidden(f"The server refused access to {what} (HTTP {resp.status}).")
    raise Unreachable(f"The server answered HTTP {resp.status} for {what}.")
