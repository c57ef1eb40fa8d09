"""The SSRF guard: may the bot connect to this URL, and to which address exactly?

Every network fetch goes through `vet_url()` first, and connects only to the address it
returns (security.md §2).  The verdict is made on what the resolver answers, never on the
typed string, so decimal/octal/hex spellings (`2130706433`, `0x7f.1`) and IPv6 wrappers
(`::ffff:127.0.0.1`, NAT64, 6to4, Teredo) are judged as the IPv4 they reach.  The URL is
parsed once here and the transport connects to the vetted IP with the original Host and TLS
name, so parser disagreements (`http://127.0.0.1:80\\@evil.com/`) cannot steer the socket.

Refusals raise `BlockedAddress` before any socket is opened.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from bot.sources.base import BlockedAddress, SourceTimeout, Unreachable

ALLOWED_SCHEMES = ("http", "https")  # s3:// never reaches here: its endpoint is the operator's
# Ports public artifact servers use (Advocate's default list); an opted-in host may use any port.
ALLOWED_PORTS = frozenset({80, 443, 8000, 8080, 8443})
MAX_REDIRECTS = 5  # the bound; each hop is vetted again
DNS_TIMEOUT_SECONDS = 5.0  # getaddrinfo has no timeout of its own (security.md F9)
MAX_HOST_CHARS = 253  # the longest DNS name

# Cloud metadata names answered inside the cloud (security.md §2.2); refused by name too.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.amazonaws.com", "metadata", "instance-data"})

_DENY = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 192.0.0.0/24 "
    "192.0.2.0/24 192.88.99.0/24 192.168.0.0/16 198.18.0.0/15 198.51.100.0/24 203.0.113.0/24 "
    "224.0.0.0/4 240.0.0.0/4 ::/128 ::1/128 ::/96 64:ff9b::/96 64:ff9b:1::/48 100::/64 2001::/32 "
    "2001:20::/28 2001:db8::/32 2002::/16 3fff::/20 5f00::/16 fc00::/7 fe80::/10 fec0::/10 ff00::/8"
).split()]
_NAT64 = [ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48")]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class VettedURL:
    """A URL the bot may fetch, with the one address it must connect to."""

    url: str  # normalised: scheme://host[:port]/path?query (no userinfo, no fragment)
    scheme: str
    host: str  # for the Host header and TLS name (IDNA-encoded, lower case)
    port: int
    ip: str  # the first vetted address
    target: str  # path + query, as sent in the request line
    ips: tuple[str, ...] = ()  # every vetted address, tried in order; the socket goes nowhere else


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address hidden inside an IPv6 one (mapped, 6to4, Teredo, compatible, NAT64)."""
    if ip.version != 6:
        return []
    assert isinstance(ip, ipaddress.IPv6Address)
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    if ip.packed[:12] == bytes(12) or any(ip in n for n in _NAT64):
        found.append(ipaddress.IPv4Address(ip.packed[12:]))
    return found


def is_forbidden_address(ip: IPAddress | str) -> bool:
    """True for every address a chat link must not make the bot reach (security.md §2.2)."""
    addr = ipaddress.ip_address(str(ip).split("%", 1)[0])
    if any(is_forbidden_address(v4) for v4 in _embedded_ipv4(addr)):
        return True
    if any(addr in n for n in _DENY):
        return True
    if addr.version == 6 and addr.ipv4_mapped:  # type: ignore[union-attr]
        return False  # judged by its IPv4 above
    return (not addr.is_global or addr.is_multicast or addr.is_reserved or addr.is_unspecified
            or addr.is_loopback or addr.is_link_local or addr.is_private)


class HostPolicy:
    """`CKPTBOT_ALLOWED_HOSTS`: host names and CIDRs an operator opted in (internal servers)."""

    def __init__(self, allowed: list[str] | tuple[str, ...] = ()) -> None:
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allowed:
            entry = entry.strip().lower()
            if entry.count(":") == 1:  # "host:port": the policy is per host
                entry = entry.split(":", 1)[0]
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.names.add(entry.rstrip("."))

    def host_allowed(self, host: str) -> bool:
        return host.rstrip(".") in self.names

    def address_allowed(self, ip: str) -> bool:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
        return any(addr.version == n.version and addr in n for n in self.networks)


def _normalise_host(raw: str) -> str:
    """The host as DNS will see it, or BlockedAddress for spellings no honest link needs."""
    if any(ord(c) < 0x21 or c in "\\%@" for c in raw):
        # NUL cuts the name short inside the resolver (security.md F3); '%' and '\\' are
        # parser-differential tricks; '@' left in a host means the userinfo split went wrong.
        raise BlockedAddress(f"The link's host name contains characters I do not accept: {raw!r}.")
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise BlockedAddress("The link's IPv6 address is malformed.")
        inner = raw[1:-1]
        if "%" in inner:
            raise BlockedAddress("IPv6 scope ids are not accepted in links.")
        try:
            return str(ipaddress.IPv6Address(inner))
        except ValueError as exc:
            raise BlockedAddress("The link's IPv6 address is malformed.") from exc
    if ":" in raw:
        raise BlockedAddress(f"The link's host is malformed: {raw!r}.")
    try:
        host = raw.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise BlockedAddress(f"The link's host name is not a valid name: {raw!r}.") from exc
    if not host or len(host) > MAX_HOST_CHARS:
        raise BlockedAddress("The link has no usable host name.")
    return host


def _resolve_once(host: str, port: int) -> list[str]:
    """One getaddrinfo with a deadline; every A/AAAA answer, scope ids stripped."""
    result: dict[str, object] = {}

    def lookup() -> None:
        try:
            result["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            result["error"] = exc

    worker = threading.Thread(target=lookup, name="ckptbot-dns", daemon=True)
    worker.start()
    worker.join(DNS_TIMEOUT_SECONDS)
    if worker.is_alive():
        raise SourceTimeout(f"Looking up {host} took longer than {DNS_TIMEOUT_SECONDS:g} s.")
    if "error" in result:
        raise Unreachable(f"I cannot resolve the host name {host}.") from result["error"]  # type: ignore[misc]
    infos = result.get("infos") or []
    addrs = []
    for family, _type, _proto, _canon, sockaddr in infos:  # type: ignore[attr-defined]
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise BlockedAddress(f"{host} resolves to a non-IP address.")
        addrs.append(str(sockaddr[0]).split("%", 1)[0])
    if not addrs:
        raise Unreachable(f"I cannot resolve the host name {host}.")
    return list(dict.fromkeys(addrs))


def vet_url(url: str, allowed_hosts: list[str] | tuple[str, ...] = (), *,
            previous: VettedURL | None = None) -> VettedURL:
    """Check a URL against the policy and pick the address to connect to.

    `previous` is the URL that redirected here: an https page may not send us to http.
    Raises BlockedAddress (policy), Unreachable (DNS failure) or SourceTimeout (DNS deadline).
    """
    policy = HostPolicy(allowed_hosts)
    if any(ord(c) < 0x21 for c in url.strip()):
        raise BlockedAddress("The link contains spaces or control characters.")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedAddress(f"I only fetch http(s) and s3 links, not {scheme or 'this'}: links.")
    if previous is not None and previous.scheme == "https" and scheme != "https":
        raise BlockedAddress("The server redirected from https to plain http; I do not follow that.")
    netloc = parts.netloc
    if "@" in netloc or "\\" in netloc:
        raise BlockedAddress("Links with a user name or password in them are not accepted.")
    try:
        port = parts.port
    except ValueError as exc:
        raise BlockedAddress("The link's port is not a valid number.") from exc
    raw_host = netloc.rsplit(":", 1)[0] if (netloc.count(":") == 1 or "]:" in netloc) else netloc
    host = _normalise_host(raw_host)
    port = port or (443 if scheme == "https" else 80)
    opted_in_name = policy.host_allowed(host)
    if host in METADATA_HOSTS and not opted_in_name:
        raise BlockedAddress(f"{host} is a cloud metadata service.")
    addrs = _resolve_once(host, port)
    refused = [a for a in addrs
               if is_forbidden_address(a) and not opted_in_name and not policy.address_allowed(a)]
    if refused:
        raise BlockedAddress(
            f"{host} points at {refused[0]}, an internal or reserved address. An administrator can "
            "allow internal artifact servers with CKPTBOT_ALLOWED_HOSTS.")
    opted_in = opted_in_name or all(policy.address_allowed(a) for a in addrs)
    if port not in ALLOWED_PORTS and not opted_in:
        raise BlockedAddress(
            f"I only fetch from the usual web ports ({', '.join(map(str, sorted(ALLOWED_PORTS)))}), "
            f"not port {port}.")
    target = unquote_safe(parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_in_url = f"[{host}]" if ":" in host else host
    default_port = 443 if scheme == "https" else 80
    netloc_out = host_in_url if port == default_port else f"{host_in_url}:{port}"
    return VettedURL(url=f"{scheme}://{netloc_out}{target}", scheme=scheme, host=host, port=port,
                     ip=addrs[0], target=target, ips=tuple(addrs))


def unquote_safe(path: str) -> str:
    """The request path exactly as typed, refusing encoded control characters."""
    if any(ord(c) < 0x20 for c in unquote(path)):
        raise BlockedAddress("The link's path contains encoded control characters.")
    return path
