"""http(s):// links: identity from one HEAD, bytes by Range through the block cache.

The first GET asks for the head with `Range: bytes=0-…` and learns the size from
`Content-Range` (no HEAD on the read path).  A server that answers 200 ignores Range: its
body is the download, streamed to a temp file under the byte budget.  Later ranges carry
`If-Match` with a strong ETag, so a file replaced mid-read fails instead of mixing versions.
"""

from __future__ import annotations

import posixpath
import re
from typing import Callable
from urllib.parse import quote, unquote, urljoin, urlsplit

from bot.sources.base import Changed, Forbidden, Identity, Unreachable, short_or_long
from bot.sources.blocks import HEAD_BYTES, TAIL_BYTES
from bot.sources.limits import ReadBudget
from bot.sources.remote import (
    OpenedFile,
    RemoteArtifact,
    download_to_temp,
    exists_or_none,
    open_ranged,
    with_tail_alongside,
)
from bot.sources.ssrf import VettedURL
from bot.sources.transport import PinnedClient, Response, raise_for_status

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_EMPTY_RANGE = re.compile(r"bytes\s+\*/(\d+)")


class HttpRangeSource:
    """Ranges of one URL (after its redirects), with the validators of the first answer."""

    def __init__(self, client: PinnedClient, url: VettedURL, size: int, etag: str | None,
                 credentials: dict[str, str] | None) -> None:
        self.client = client
        self.url = url
        self.size = size
        self.etag = etag if etag and not etag.startswith("W/") else None
        self.credentials = credentials

    def fetch(self, start: int, end: int) -> bytes:
        self.client.budget.check_bytes(end - start)
        headers = {"Range": f"bytes={start}-{end - 1}"}
        if self.etag:
            headers["If-Match"] = self.etag
        resp = self.client.request(self.url, headers=headers, credentials=self.credentials)
        if resp.status == 412:
            raise Changed("The file changed on the server while I was reading it; try again.")
        raise_for_status(resp, self.url.url)
        if resp.status != 206:
            raise Unreachable(f"The server stopped honouring byte ranges (HTTP {resp.status}).")
        match = _CONTENT_RANGE.match(resp.header("content-range") or "")
        if not match or int(match.group(1)) != start:
            raise Unreachable("The server answered a different byte range than asked for.")
        data = resp.read_all(self.client.budget, limit=end - start)
        if len(data) != end - start:
            raise short_or_long(len(data), end - start, "The server")
        return data


def open_http(client: PinnedClient, url: VettedURL, name: str, *,
              credentials: dict[str, str] | None = None,
              check_first: Callable[[Response], None] | None = None) -> OpenedFile:
    """GETs for the head and (alongside) the tail; or the whole body when Range is ignored."""
    client.budget.check_bytes(HEAD_BYTES + TAIL_BYTES)
    tail_etag: list[str | None] = []

    def fetch_tail() -> tuple[int, bytes] | None:
        tail_client = PinnedClient(client.budget, client.allowed_hosts, client.tls_context)
        try:
            resp = tail_client.request(url, headers={"Range": f"bytes=-{TAIL_BYTES}"}, credentials=credentials)
            match = _CONTENT_RANGE.match(resp.header("content-range") or "")
            if resp.status != 206 or not match or match.group(3) == "*":
                return None  # the head's answer decides what happens instead
            tail_etag.append(resp.header("etag"))
            return int(match.group(1)), resp.read_all(client.budget, limit=TAIL_BYTES)
        finally:
            tail_client.close()

    resp, tail = with_tail_alongside(
        lambda: client.request(url, headers={"Range": f"bytes=0-{HEAD_BYTES - 1}"}, credentials=credentials),
        fetch_tail)
    if check_first is not None:
        check_first(resp)
    if resp.status == 416:  # an empty file has no byte 0
        resp.read_all(client.budget, limit=64 * 1024)
        empty = _EMPTY_RANGE.match(resp.header("content-range") or "")
        if empty and int(empty.group(1)) == 0:
            return download_to_temp([], client.budget, name)
    raise_for_status(resp, name)
    # Later ranges go where the redirects ended; a token never follows a redirect.
    creds = None if resp.redirected else credentials
    if resp.status == 206:
        match = _CONTENT_RANGE.match(resp.header("content-range") or "")
        if match and match.group(3) != "*" and int(match.group(1)) == 0:
            size = int(match.group(3))
            head = resp.read_all(client.budget, limit=HEAD_BYTES)
            source = HttpRangeSource(client, resp.url, size, resp.header("etag"), creds)
            if tail_etag and tail_etag[0] != resp.header("etag"):
                tail = None  # the file changed between the two answers
            return open_ranged(source, head, name, tail=tail)
        resp.raw.close()
        raise Unreachable("The server answered a byte range without saying the file's size.")
    # 200: the server ignored Range, and the body is the whole file.
    declared = resp.header("content-length")
    if declared and declared.isdigit():
        client.budget.check_bytes(int(declared))  # refuse before reading a body that is too big
    return download_to_temp(resp.iter_body(client.budget), client.budget, name)


def http_identity(client: PinnedClient, url: VettedURL, credentials: dict[str, str] | None = None,
                  check_first: Callable[[Response], None] | None = None) -> Identity:
    """ETag / Last-Modified / size from a HEAD, or from a 1-byte GET when HEAD is refused."""
    resp = client.request(url, method="HEAD", credentials=credentials)
    size: str | None = resp.header("content-length")
    if resp.status >= 400 and resp.status not in (404, 410):
        resp.raw.close()
        resp = client.request(url, headers={"Range": "bytes=0-0"}, credentials=credentials)
        if check_first is not None:
            check_first(resp)
        raise_for_status(resp, url.url)
        match = _CONTENT_RANGE.match(resp.header("content-range") or "")
        size = match.group(3) if match else resp.header("content-length")
        if resp.status == 206:
            resp.read_all(client.budget, limit=1)
        else:
            resp.raw.close()  # a 200 here would be the whole body: do not read it
    else:
        if check_first is not None:
            check_first(resp)
        raise_for_status(resp, url.url)
        resp.raw.read()
    validators = tuple((k, v) for k, v in (
        ("etag", resp.header("etag")), ("last-modified", resp.header("last-modified")), ("size", size),
    ) if v)
    return Identity(kind="http", key=url.url, validators=validators)


def name_from_url(url: str) -> str:
    path = urlsplit(url).path
    return unquote(posixpath.basename(path.rstrip("/"))) or urlsplit(url).hostname or "download"


class HttpSource:
    """An http(s) link that passed the SSRF guard."""

    def __init__(self, reference: str, url: VettedURL, client_factory: Callable[[], PinnedClient],
                 credentials: dict[str, str] | None = None,
                 check_first: Callable[[Response], None] | None = None, kind: str = "http") -> None:
        if url.target.split("?", 1)[0].endswith("/"):
            raise Forbidden("That link is a directory. Folders (such as a SavedModel) cannot be read "
                            "over HTTP; link to a file, or copy the folder to a shared disk.")
        self.reference = reference
        self.url = url
        self.display_name = name_from_url(url.url)
        self._client_factory = client_factory
        self._credentials = credentials
        self._check_first = check_first
        self.kind = kind  # "http", or "slack" for uploads read with the bot token

    def identity(self) -> Identity:
        client = self._client_factory()
        try:
            ident = http_identity(client, self.url, self._credentials, self._check_first)
        finally:
            client.close()
        return Identity(kind=self.kind, key=ident.key, validators=ident.validators)

    def artifact(self) -> RemoteArtifact:
        client = self._client_factory()  # one client, one budget for the file and its siblings
        return self._artifact_for(client, self.url, self._credentials)

    def _artifact_for(self, client: PinnedClient, url: VettedURL,
                      credentials: dict[str, str] | None) -> RemoteArtifact:
        name = name_from_url(url.url)

        def opener() -> OpenedFile:
            return open_http(client, url, name, credentials=credentials, check_first=self._check_first)

        def sibling_of(other: str) -> RemoteArtifact | None:
            sib_url = client.vet(urljoin(url.url, quote(other)))
            return exists_or_none(self._artifact_for(client, sib_url, credentials))

        return RemoteArtifact(name, url.url, opener, sibling_of)


def client_factory_for(settings_allowed_hosts: list[str], budget_factory: Callable[[], ReadBudget]
                       ) -> Callable[[], PinnedClient]:
    return lambda: PinnedClient(budget_factory(), settings_allowed_hosts)
