"""s3://bucket/key: HeadObject for identity, ranged GetObject through the block cache.

Credentials, region and endpoint come from the usual AWS environment and config files
(`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...), read by botocore itself.
botocore's synchronous client is used rather than s3fs: s3fs runs its requests on an
asyncio I/O thread, and a garbage collection there that frees an h5py object deadlocks on
h5py's global lock held by the reading thread (remote-reads.md §2.2, §9.4).  Ranges carry
`IfMatch` with the ETag, as s3fs does.  The endpoint is the operator's, never the user's,
so the SSRF guard does not apply; the bucket and key are all a user chooses.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Callable

from bot.sources.base import (
    Changed,
    Forbidden,
    Identity,
    NotFound,
    SourceError,
    SourceTimeout,
    Unreachable,
    short_or_long,
)
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

_S3_URL = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(.+)$")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+)")
S3_CONNECT_TIMEOUT_SECONDS = 5.0
S3_READ_TIMEOUT_SECONDS = 20.0
S3_MAX_ATTEMPTS = 2  # one retry for a dropped connection; more would hide an outage from the budget


def parse_s3_url(reference: str) -> tuple[str, str]:
    match = _S3_URL.match(reference.strip())
    if not match:
        raise NotFound("That is not an s3://bucket/key link I can read.")
    return match.group(1), match.group(2)


def make_s3_client() -> Any:
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    config = Config(connect_timeout=S3_CONNECT_TIMEOUT_SECONDS, read_timeout=S3_READ_TIMEOUT_SECONDS,
                    retries={"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"})
    return session.create_client("s3", config=config)


def _translate(exc: Exception, what: str) -> SourceError:
    """botocore's errors → the source errors a user can act on."""
    from botocore import exceptions as bex

    if isinstance(exc, bex.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchKey", "NoSuchBucket", "NotFound", "404") or status == 404:
            return NotFound(f"{what} does not exist.")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch") or status == 403:
            return Forbidden(f"S3 refused access to {what} ({code or status}).")
        if code in ("PreconditionFailed", "412") or status == 412:
            return Changed(f"{what} changed while I was reading it; try again.")
        return Unreachable(f"S3 answered {code or status} for {what}.")
    if isinstance(exc, bex.NoCredentialsError):
        return Forbidden("No AWS credentials are configured for the bot, so it cannot read s3:// links.")
    if isinstance(exc, (bex.ConnectTimeoutError, bex.ReadTimeoutError)):
        return SourceTimeout(f"S3 did not answer in time for {what}.")
    return Unreachable(f"I could not reach S3 for {what}: {exc}.")


class S3RangeSource:
    def __init__(self, client: Any, budget: ReadBudget, bucket: str, key: str, size: int,
                 etag: str | None) -> None:
        self.client, self.budget, self.bucket, self.key = client, budget, bucket, key
        self.size = size
        self.etag = etag

    def get(self, range_header: str, limit: int) -> dict[str, Any]:
        from botocore import exceptions as bex

        self.budget.charge_request()
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key, "Range": range_header}
        if self.etag:
            kwargs["IfMatch"] = self.etag
        try:
            resp = self.client.get_object(**kwargs)
            body = resp["Body"]
            data = bytearray()
            while True:
                chunk = body.read(min(256 * 1024, limit + 1 - len(data)) or 1)
                if not chunk:
                    break
                self.budget.charge_bytes(len(chunk))
                data += chunk
                if len(data) > limit:
                    raise Unreachable("S3 sent more bytes than the range asked for.")
            resp["Data"] = bytes(data)
            return resp
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise _translate(exc, f"s3://{self.bucket}/{self.key}") from exc

    def fetch(self, start: int, end: int) -> bytes:
        self.budget.check_bytes(end - start)
        data = self.get(f"bytes={start}-{end - 1}", end - start)["Data"]
        if len(data) != end - start:
            raise short_or_long(len(data), end - start, "S3")
        return data


def open_s3(client: Any, budget: ReadBudget, bucket: str, key: str) -> OpenedFile:
    name = posixpath.basename(key)
    first = S3RangeSource(client, budget, bucket, key, size=0, etag=None)
    tail_etag: list[str | None] = []

    def fetch_tail() -> tuple[int, bytes] | None:
        resp = first.get(f"bytes=-{TAIL_BYTES}", TAIL_BYTES)
        match = _CONTENT_RANGE.match(resp.get("ContentRange") or "")
        tail_etag.append(resp.get("ETag"))
        return (int(match.group(1)), resp["Data"]) if match else None

    try:
        resp, tail = with_tail_alongside(lambda: first.get(f"bytes=0-{HEAD_BYTES - 1}", HEAD_BYTES),
                                         fetch_tail)
    except SourceError as exc:
        if "InvalidRange" not in str(exc.__cause__ or ""):
            raise
        return download_to_temp([], budget, name)  # a 0-byte object has no byte 0
    match = _CONTENT_RANGE.match(resp.get("ContentRange") or "")
    size = int(match.group(3)) if match else len(resp["Data"])
    source = S3RangeSource(client, budget, bucket, key, size=size, etag=resp.get("ETag"))
    if tail_etag and tail_etag[0] != resp.get("ETag"):
        tail = None  # the object changed between the two answers
    return open_ranged(source, resp["Data"], name, tail=tail)


class S3Source:
    """An s3://bucket/key reference."""

    def __init__(self, reference: str, budget_factory: Callable[[], ReadBudget],
                 client_factory: Callable[[], Any] = make_s3_client) -> None:
        self.reference = reference
        self.kind = "s3"
        self.bucket, self.key = parse_s3_url(reference)
        self.display_name = posixpath.basename(self.key)
        self._budget_factory = budget_factory
        self._client_factory = client_factory

    def identity(self) -> Identity:
        from botocore import exceptions as bex

        client = self._client_factory()
        try:
            head = client.head_object(Bucket=self.bucket, Key=self.key)
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise _translate(exc, self.reference) from exc
        validators = tuple((k, str(v)) for k, v in (
            ("etag", head.get("ETag")), ("last-modified", head.get("LastModified")),
            ("size", head.get("ContentLength")), ("version", head.get("VersionId")),
        ) if v is not None)
        return Identity(kind="s3", key=f"s3://{self.bucket}/{self.key}", validators=validators)

    def artifact(self) -> RemoteArtifact:
        client = self._client_factory()
        budget = self._budget_factory()
        return self._artifact_for(client, budget, self.key)

    def _artifact_for(self, client: Any, budget: ReadBudget, key: str) -> RemoteArtifact:
        def opener() -> OpenedFile:
            return open_s3(client, budget, self.bucket, key)

        def sibling_of(name: str) -> RemoteArtifact | None:
            other = posixpath.join(posixpath.dirname(key), name)
            return exists_or_none(self._artifact_for(client, budget, other))

        return RemoteArtifact(posixpath.basename(key), f"s3://{self.bucket}/{key}", opener, sibling_of)
