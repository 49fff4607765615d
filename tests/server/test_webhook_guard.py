"""Where a webhook may send (webapi/webhooks/guard.py): a corpus of URLs that reach loopback,
private, link-local, multicast or reserved addresses in every spelling, refused; public ones
allowed; and WEBHOOK_ALLOW_PRIVATE letting local ones through."""

from __future__ import annotations

import pytest

from webapi.webhooks.guard import Refused, check, parse


def _resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise Refused(f"the host {host!r} does not resolve")
        return answers[host]

    return resolve


DNS = _resolver({
    "hooks.example.com": ["93.184.215.14"],
    "dual.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "internal.example.com": ["10.1.2.3"],
    "mixed.example.com": ["93.184.215.14", "192.168.1.10"],  # one bad answer is enough
    "v6local.example.com": ["fd00::1"],
    "localhost": ["127.0.0.1", "::1"],
    "metadata.example.com": ["169.254.169.254"],
})

REFUSED = [
    "http://127.0.0.1/", "http://127.1.2.3:8080/x", "http://localhost/", "http://[::1]/",
    "http://0.0.0.0/", "http://[::]/", "http://10.0.0.1/", "http://172.16.5.4/",
    "http://192.168.0.1/", "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/",
    "http://224.0.0.1/", "http://[ff02::1]/", "http://240.0.0.1/", "http://255.255.255.255/",
    "http://[fe80::1]/", "http://[fd12:3456::1]/", "http://[fc00::1]/",
    # IPv4 inside IPv6: mapped, 6to4, NAT64, IPv4-compatible.
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::ffff:10.0.0.1]/",
    "http://[2002:7f00:1::]/", "http://[64:ff9b::a00:1]/", "http://[::127.0.0.1]/",
    # Decimal, octal, hexadecimal and short forms that inet_aton reads as loopback.
    "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.0.0.1/", "http://0x7f000001/",
    "http://127.1/", "http://017700000001/", "http://3232235521/",
    # Names that resolve to private addresses.
    "http://internal.example.com/", "http://mixed.example.com/", "https://v6local.example.com/",
    "http://metadata.example.com/", "http://LOCALHOST./",
    # Not a URL a webhook may have.
    "ftp://hooks.example.com/", "file:///etc/passwd", "gopher://hooks.example.com/",
    "http://user:pw@hooks.example.com/", "http:///nohost", "http://nowhere.example.com/",
    "http://hooks.example.com:99999/", "http://[fe80::1%25eth0]/", "http://hooks.example.com/ x",
    "//hooks.example.com/", "", "http://" + "a" * 2000 + ".com/",
]
ALLOWED = ["https://hooks.example.com/promptsync?token=abc", "http://hooks.example.com:8080/",
           "https://dual.example.com/", "http://93.184.215.14/", "https://[2606:4700::1111]/"]


@pytest.mark.parametrize("url", REFUSED)
def test_refused(url: str) -> None:
    with pytest.raises(Refused):
        check(url, allow_private=False, resolver=DNS)


@pytest.mark.parametrize("url", ALLOWED)
def test_allowed(url: str) -> None:
    target = check(url, allow_private=False, resolver=DNS)
    assert target.address in {"93.184.215.14", "2606:4700::1111"}


def test_the_target_is_the_checked_address_and_keeps_host_path_and_query() -> None:
    target = check("https://hooks.example.com/a/b?x=1", allow_private=False, resolver=DNS)
    assert (target.scheme, target.host, target.port, target.path, target.address) == (
        "https", "hooks.example.com", 443, "/a/b?x=1", "93.184.215.14")


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000/hook", "http://localhost/",
                                 "http://[::1]:8000/", "http://10.0.0.1/",
                                 "http://2130706433/"])
def test_allow_private_lets_local_addresses_through(url: str) -> None:
    assert check(url, allow_private=True, resolver=DNS).address


def test_allow_private_still_refuses_what_is_no_http_url() -> None:
    for url in ("file:///etc/passwd", "http://user:pw@127.0.0.1/", "http://nowhere.example.com/"):
        with pytest.raises(Refused):
            check(url, allow_private=True, resolver=DNS)


def test_the_real_resolver_refuses_localhost() -> None:
    with pytest.raises(Refused, match="loopback"):
        check("http://localhost:8080/", allow_private=False)


def test_parse_defaults_the_port() -> None:
    assert parse("http://h.example/")[2:] == (80, "/")
    assert parse("https://h.example")[2:] == (443, "/")
