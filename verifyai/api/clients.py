"""Who is calling, as per-address limits count it.

REMOTE_ADDR, unless it is one of VERIFYAI_TRUSTED_PROXIES (the load balancers in front of
us): then the client is the rightmost X-Forwarded-For hop that is not itself a trusted proxy.
A client-sent X-Forwarded-For is never believed otherwise, since anyone can write one.
IPv6 addresses count per /64, one subscriber's network.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _parse(raw: str) -> Address | None:
    try:
        address = ipaddress.ip_address(raw.strip().split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address) -> bool:
    return any(address in network for network in _networks(tuple(settings.VERIFYAI_TRUSTED_PROXIES)))


def client_address(request: HttpRequest) -> str:
    address = _parse(request.META.get("REMOTE_ADDR") or "")
    if address is None:
        return "unknown"
    if _trusted(address):
        hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        for hop in reversed(hops):
            forwarded = _parse(hop)
            if forwarded is None:
                break  # a hop we cannot read: stop at the last address we could trust
            address = forwarded
            if not _trusted(forwarded):
                break
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)
