"""Who is the client: the peer address, or ``X-Forwarded-For`` when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_USER_AGENT = 200  # characters of the User-Agent a security notice quotes


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from, as a security notice tells it."""

    ip: str
    user_agent: str = ""

    def params(self) -> dict[str, str]:
        return {"ip": self.ip, "user_agent": self.user_agent[:MAX_USER_AGENT]}


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[Network]
) -> bool:
    return any(addr in net for net in proxies)


def client_ip(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """Walk ``X-Forwarded-For`` from the right, skipping trusted proxies.

    The first address that is not a trusted proxy is the client. A header from an untrusted peer
    is ignored entirely, so a client cannot choose its own rate-limit key.
    """
    peer_addr = _parse(peer) if peer else None
    if peer_addr is None:
        return peer or "unknown"
    if not forwarded_for or not proxies or not _trusted(peer_addr, proxies):
        return str(peer_addr)
    hops = forwarded_for.split(",")[-32:]
    client = peer_addr
    for hop in reversed(hops):
        addr = _parse(hop)
        if addr is None:
            break
        client = addr
        if not _trusted(addr, proxies):
            break
    return str(client)
