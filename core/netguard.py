"""Which network addresses the site may call when a URL comes from outside (SSRF).

A URL an operator or an upstream gives is fetched from inside the site's network, so it
must not reach that network: every address its host resolves to must be public, and
each IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64) too. Used by the
webhooks (core/webhooks.py) and the badge images (claims/bitbadges/badge.py), which
connect to the address checked (no second lookup).
"""

import ipaddress
import socket

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 forms that carry an IPv4 address inside: NAT64's well-known prefix and the
# deprecated IPv4-compatible form keep it in the last 32 bits (6to4 and Teredo have
# their own accessors); a local-use NAT64 prefix may put it anywhere, so it is refused.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def inner(address: Address) -> list[Address]:
    """`address` and every IPv4 address it carries (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return [address]
    found: list[Address] = [address]
    if address.ipv4_mapped:
        found.append(address.ipv4_mapped)
    if address.sixtofour:
        found.append(address.sixtofour)
    if address.teredo:
        found += address.teredo
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(address: Address) -> bool:
    """Whether `address`, and every address it carries, is on the public internet."""
    return not any(
        one in NAT64_LOCAL or not one.is_global or one.is_multicast for one in inner(address)
    )


def resolve(host: str, port: int) -> list[Address]:
    """Every address of `host` (an address itself is its own); OSError when none."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except UnicodeError:
        raise OSError(f"{host} is not a host name") from None
    # The scope id of a link-local IPv6 address ("fe80::1%eth0") is not part of the address.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
