"""A link from a chat message must not make the bot reach its own network.

A real file server listens on 127.0.0.1 (and a second one on 127.0.0.2).  Every tricky
spelling of a loopback, private or metadata address is refused, and the servers' connection
counters prove no socket was ever opened: the refusal happens before any connection.  The
same server is reachable once an operator opts 127.0.0.1 in, so the counters can move.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.errors import ErrorCode  # noqa: E402
from bot.sources import resolve  # noqa: E402
from bot.sources.base import BlockedAddress, SourceError  # noqa: E402
from bot.sources.limits import ReadBudget  # noqa: E402
from bot.sources.ssrf import is_forbidden_address, vet_url  # noqa: E402
from bot.sources.transport import PinnedClient  # noqa: E402
from tests.servers import range_server  # noqa: E402

# {P}: the loopback server's port; each URL would reach it (or its 127.0.0.2 twin) if followed.
TRICKY_URLS = [
    "http://127.0.0.1:{P}/secret.h5",
    "http://localhost:{P}/secret.h5",
    "http://localhost.:{P}/secret.h5",
    "http://LOCALHOST:{P}/secret.h5",
    "http://ｌｏｃａｌｈｏｓｔ:{P}/secret.h5",  # fullwidth, IDNA-normalised to localhost
    "http://127.1:{P}/secret.h5",
    "http://127.0.1:{P}/secret.h5",
    "http://127.000.000.001:{P}/secret.h5",
    "http://2130706433:{P}/secret.h5",  # decimal
    "http://017700000001:{P}/secret.h5",  # octal
    "http://0177.0.0.1:{P}/secret.h5",
    "http://0x7f.0.0.1:{P}/secret.h5",  # hex
    "http://0x7f000001:{P}/secret.h5",
    "http://0x7f.1:{P}/secret.h5",
    "http://127.0.0.2:{P}/secret.h5",
    "http://2130706434:{P}/secret.h5",  # 127.0.0.2, decimal
    "http://[::1]:{P}/secret.h5",
    "http://[0000::1]:{P}/secret.h5",
    "http://[::ffff:127.0.0.1]:{P}/secret.h5",  # IPv4-mapped
    "http://[::ffff:7f00:1]:{P}/secret.h5",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:{P}/secret.h5",
    "http://[::127.0.0.1]:{P}/secret.h5",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]:{P}/secret.h5",  # NAT64
    "http://[64:ff9b:1::7f00:1]:{P}/secret.h5",
    "http://[2002:7f00:1::]:{P}/secret.h5",  # 6to4
    "http://0:{P}/secret.h5",
    "http://0.0.0.0:{P}/secret.h5",
    "http://[::]:{P}/secret.h5",
    "http://user@127.0.0.1:{P}/secret.h5",  # userinfo
    "http://user:pw@127.0.0.1:{P}/secret.h5",
    "http://evil.example@127.0.0.1:{P}/secret.h5",
    "http://127.0.0.1:{P}\\@evil.example/secret.h5",  # urllib3 and requests connect to 127.0.0.1
    "http://evil.example\\@127.0.0.1:{P}/secret.h5",
    "http://%31%32%37.0.0.1:{P}/secret.h5",  # percent-encoded host
    "http://user@127.0.0.1:{P}#@evil.example/secret.h5",
    "http://127.1.1.1:{P}@127.0.0.1:{P}/secret.h5",
    "http://127.1.1.1:{P}@@127.0.0.1:{P}/secret.h5",
    "http://127.1.1.1:{P}:@@127.0.0.1:{P}/secret.h5",
    "http://127.0.0.1\x00.evil.example:{P}/secret.h5",  # NUL cuts the name in the resolver
    "http://127.0.0.1:{P}/secret.h5\r\nX-Injected: 1",
    "HTTP://127.0.0.1:{P}/secret.h5",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{P}/_GET%20/secret.h5",
    "dict://127.0.0.1:{P}/info",
    "ftp://127.0.0.1:{P}/secret.h5",
    "data:application/octet-stream;base64,iUhERg0KGgo=",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://100.100.100.200/latest/meta-data/",
    "http://10.0.0.1/secret.h5",
    "http://192.168.0.1/secret.h5",
    "http://172.16.0.1/secret.h5",
    "http://[fe80::1]/secret.h5",
    "http://224.0.0.1/secret.h5",
    "http://255.255.255.255/secret.h5",
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    (root / "secret.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"internal secret" * 100)
    with range_server(str(root)) as first, range_server(str(root), "--host", "127.0.0.2") as second:
        yield first, second


def _connections(servers) -> tuple[int, int]:
    return servers[0].stats()["connections"], servers[1].stats()["connections"]


def test_the_table_is_big_enough_to_mean_something():
    assert len(TRICKY_URLS) >= 40


@pytest.mark.parametrize("template", TRICKY_URLS)
def test_tricky_link_is_refused_before_any_connection(servers, template):
    # The second server listens on 127.0.0.2 but on its own port; point the twin URLs at it.
    port = servers[0].port if "127.0.0.2" not in template and "2130706434" not in template \
        else servers[1].port
    url = template.replace("{P}", str(port))
    before = _connections(servers)
    with pytest.raises(SourceError) as refused:
        source = resolve(url, Settings())
        source.artifact().open()  # were resolve() lenient, this would connect
    after = _connections(servers)
    # /__stats itself opens exactly one connection per server per call.
    assert after == (before[0] + 1, before[1] + 1), f"{url!r} reached a server"
    assert refused.value.code in (ErrorCode.BLOCKED, ErrorCode.UNREACHABLE, ErrorCode.FORBIDDEN,
                                  ErrorCode.NOT_FOUND)


def test_opting_the_loopback_server_in_makes_it_reachable(servers):
    """The control: the counters do move when a connection happens."""
    before = _connections(servers)
    settings = Settings(CKPTBOT_ALLOWED_HOSTS="127.0.0.1")
    with resolve(servers[0].url("secret.h5"), settings).artifact().open() as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"
    assert _connections(servers)[0] > before[0] + 1


def test_a_redirect_to_an_address_not_opted_in_is_refused_at_the_hop(tmp_path):
    (tmp_path / "secret.h5").write_bytes(b"secret bytes")
    with range_server(str(tmp_path), "--host", "127.0.0.2") as internal:
        target = f"http://127.0.0.2:{internal.port}/secret.h5"
        with range_server(str(tmp_path), "--redirect", f"/model.h5={target}") as public:
            settings = Settings(CKPTBOT_ALLOWED_HOSTS="127.0.0.1")
            before = internal.stats()["connections"]
            with pytest.raises(BlockedAddress):
                resolve(public.url("model.h5"), settings).artifact().open()
            assert internal.stats()["connections"] == before + 1
            # The head and the tail request each got the redirect; nothing was sent after it.
            assert public.stats()["requests"] == 2


def test_a_redirect_loop_stops_after_five_hops(tmp_path):
    with range_server(str(tmp_path), "--redirect", "/a.h5=/b.h5", "--redirect", "/b.h5=/a.h5") as srv:
        settings = Settings(CKPTBOT_ALLOWED_HOSTS="127.0.0.1")
        with pytest.raises(SourceError, match="redirected more than 5 times"):
            resolve(srv.url("a.h5"), settings).artifact().open()
        assert srv.stats()["requests"] == 2 * 6  # head and tail chains, each stopped after 5 hops


def test_https_may_not_redirect_to_plain_http(monkeypatch):
    _fake_dns(monkeypatch, {"files.example": ["93.184.216.34"]})
    first = vet_url("https://files.example/model.h5")
    with pytest.raises(BlockedAddress, match="https to plain http"):
        vet_url("http://files.example/model.h5", previous=first)


def _fake_dns(monkeypatch, table: dict[str, list[str]], calls: list[str] | None = None) -> None:
    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            if calls is not None:
                calls.append(host)
            answers = table[host] if isinstance(table[host], list) else table[host]()
        else:  # a numeric address, as socket.create_connection passes the pinned IP
            answers = [str(ipaddress.ip_address(host))]
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in answers]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_with_any_forbidden_record_is_refused(monkeypatch):
    _fake_dns(monkeypatch, {"mixed.example": ["93.184.216.34", "10.0.0.1"]})
    with pytest.raises(BlockedAddress, match="10.0.0.1"):
        vet_url("https://mixed.example/model.h5")


def test_dns_is_asked_once_and_the_socket_goes_to_the_vetted_address(monkeypatch, servers):
    """DNS rebinding: a second lookup would answer 10.0.0.1; there is no second lookup."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    calls: list[str] = []
    _fake_dns(monkeypatch, {"artifacts.example": lambda: next(answers)}, calls)
    settings = Settings(CKPTBOT_ALLOWED_HOSTS="127.0.0.1/32")
    url = f"http://artifacts.example:{servers[0].port}/secret.h5"
    with resolve(url, settings).artifact().open() as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"
    assert calls == ["artifacts.example"]  # once: the artifact connects to the address vetted then
    log = servers[0].stats()["log"]
    assert any(entry["path"] == "/secret.h5" for entry in log)


def test_unusual_ports_need_an_opt_in(monkeypatch):
    _fake_dns(monkeypatch, {"example.com": ["93.184.216.34"]})
    for port in (22, 25, 6379, 11211):
        with pytest.raises(BlockedAddress, match="port"):
            vet_url(f"http://example.com:{port}/")
    with pytest.raises(BlockedAddress):
        vet_url("http://localhost:+11211aaa/")
    assert vet_url("https://example.com:8443/m.h5").port == 8443


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.100.100.200",
    "169.254.169.254", "0.0.0.0", "192.0.0.192", "198.18.0.1", "224.0.0.1", "240.0.0.1",
    "255.255.255.255", "::1", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
    "64:ff9b::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe", "2002:a9fe:a9fe::", "fd00:ec2::254", "fe80::1",
    "fec0::1", "fc00::1", "ff02::1", "2001:db8::1", "5f00::1", "3fff::1", "100::1",
    "2001:0:4136:e378:8000:63bf:3f57:fdf2",
])
def test_internal_and_reserved_addresses_are_forbidden(address):
    assert is_forbidden_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111",
                                     "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert not is_forbidden_address(address)


def test_a_pinned_client_never_sends_a_refused_redirect_target_anything(servers):
    """The transport re-vets each hop itself, not only resolve()."""
    client = PinnedClient(ReadBudget(1 << 20, 10, 10.0), ["127.0.0.1"])
    with pytest.raises(BlockedAddress):
        client.request("http://169.254.169.254/latest/meta-data/")
    assert client.budget.requests == 0


def test_international_names_are_looked_up_in_their_ascii_form(monkeypatch):
    calls: list[str] = []
    _fake_dns(monkeypatch, {"xn--wrocaw-6db.test": ["93.184.216.34"]}, calls)
    assert vet_url("https://wrocław.test/m.h5").host == "xn--wrocaw-6db.test"
    assert calls == ["xn--wrocaw-6db.test"]


def test_a_resolver_that_hangs_fails_within_the_dns_deadline(monkeypatch):
    import threading

    from bot.sources import ssrf
    from bot.sources.base import SourceTimeout

    release = threading.Event()

    def hanging(*args, **kwargs):
        release.wait(30)
        raise socket.gaierror("released")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    monkeypatch.setattr(ssrf, "DNS_TIMEOUT_SECONDS", 0.2)
    try:
        with pytest.raises(SourceTimeout, match="Looking up"):
            vet_url("https://slow-dns.example/m.h5")
    finally:
        release.set()
