"""Where a webhook may send: an http(s) URL whose host resolves only to public addresses.

Checked when a webhook is saved and again at every delivery, on the addresses the delivery then
connects to (delivery.py connects to the IP this returns, never to the name again), so a DNS
answer that changes to a private address after the check (rebinding) is refused too.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to, as text.
Resolver = Callable[[str, int], list[str]]
MAX_URL = 2000
# What inet_aton reads as an IPv4 address besides the dotted quad: 2130706433, 0x7f.1,
# 0177.0.0.1. Such hosts are taken as the address they spell, whatever a resolver does.
_NUMERIC = re.compile(r"^[0-9a-fA-FxX.]+$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(ValueError):
    """The URL is not one a webhook may send to; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (an address, never the name again) and what to send."""

    scheme: str
    host: str  # for the Host header and TLS's server name
    port: int
    path: str  # with the query
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for host (IPv4 and IPv6)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"the host {host!r} does not resolve") from exc
    return [str(info[4][0]) for info in infos]


def _embedded(ip: IP) -> IP | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def why_forbidden(ip: IP) -> str | None:
    """Why a webhook may not connect to ip (loopback, private, …), or None when it may."""
    inner = _embedded(ip)
    if inner is not None:
        reason = why_forbidden(inner)
        return f"{reason} (inside {ip})" if reason else None
    for test, name in ((ip.is_loopback, "loopback"), (ip.is_link_local, "link-local"),
                       (ip.is_multicast, "multicast"), (ip.is_unspecified, "unspecified"),
                       (ip.is_private, "private"), (ip.is_reserved, "reserved")):
        if test:
            return name
    if not ip.is_global:  # shared address space (100.64/10) and the like
        return "not public"
    return None


def _literal(host: str) -> IP | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC.match(host) and not host.endswith("."):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL a webhook may have, or Refused."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise Refused(f"the URL must be text of 1 to {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise Refused("the URL has a space or a control character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"the URL is malformed: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("the URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise Refused("the URL may not carry a user name or password; sign with the secret")
    host = (parts.hostname or "").rstrip(".")
    if not host or "%" in host:
        raise Refused("the URL has no usable host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def check(url: str, allow_private: bool, resolver: Resolver = system_resolver) -> Target:
    """The URL's target, resolved now; Refused when any address it resolves to is not public
    (unless allow_private) or when it does not resolve."""
    scheme, host, port, path = parse(url)
    literal = _literal(host)
    addresses = [str(literal)] if literal is not None else resolver(host, port)
    if not addresses:
        raise Refused(f"the host {host!r} does not resolve")
    ips = []
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        reason = None if allow_private else why_forbidden(ip)
        if reason:
            raise Refused(f"{host} resolves to {ip}, a {reason} address: webhooks send only to "
                          "public addresses (WEBHOOK_ALLOW_PRIVATE=true allows local ones)")
        ips.append(ip)
    return Target(scheme, host, port, path, str(ips[0]))
