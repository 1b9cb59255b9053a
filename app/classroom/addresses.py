"""The address students open: the lecturer's, unless it is this computer's own (loopback), which no phone reaches.

A lecturer who opened the page at http://127.0.0.1:8000/ or http://localhost:8000/ would hand the class a join
URL and QR code that point each phone at itself. Then the share panel says so; and when the server also answers
on one of this machine's network addresses (it listens on all interfaces, ``--host 0.0.0.0``), the join URL
uses that address instead.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

PROBE_SECONDS = 0.3  # a connection to one's own address is refused or accepted at once
ROUTE_PROBE = ("198.51.100.1", 9)  # TEST-NET-2: a UDP socket "connected" there names the outgoing interface


@dataclass(frozen=True)
class JoinBase:
    """The base URL of the join URL, and what the share panel says about it (``None``: nothing)."""

    base: str
    warning: str | None = None
    note: str | None = None


def is_loopback(host: str) -> bool:
    """``localhost``, ``*.localhost``, 127.0.0.0/8 and ::1: names of this computer that only it can open."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _usable(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def network_addresses() -> list[str]:
    """This machine's IPv4 addresses on a network: the host name's, then the one its packets leave from."""
    found: list[str] = []
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        infos = []
    candidates = [str(info[4][0]) for info in infos]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(ROUTE_PROBE)  # UDP: sends nothing, only picks the route
            candidates.append(str(s.getsockname()[0]))
    except OSError:
        pass
    for address in candidates:
        if _usable(address) and address not in found:
            found.append(address)
    return found


def answers_at(address: str, port: int) -> bool:
    """Whether something accepts connections at ``address:port`` (this server, when it listens on all interfaces)."""
    try:
        with socket.create_connection((address, port), timeout=PROBE_SECONDS):
            return True
    except OSError:
        return False


def join_base(base: str, scheme: str, host: str, port: int | None, root: str, server_port: int | None) -> JoinBase:
    """The join URL's base for a page opened at ``base`` (``scheme://host:port`` + ``root``) on a server whose
    socket is ``server_port`` (blocking: a name lookup and a connection or two; run it in a thread)."""
    shown_port = f":{port}" if port is not None else ""
    if not is_loopback(host):
        return JoinBase(base)
    addresses = network_addresses()
    direct = port is not None and port == server_port  # no proxy between the browser and this server
    if direct and port is not None:
        for address in addresses:
            if answers_at(address, port):
                return JoinBase(
                    f"{scheme}://{address}{shown_port}{root}",
                    note=f"You opened this page at {host}, this computer's own address; the join URL uses its "
                    f"address on the network, {address}.",
                )
    example = f"{scheme}://{addresses[0] if addresses else '192.168.…'}{shown_port}{root}/"
    return JoinBase(
        base,
        warning=f"This address is this computer's own: students cannot open it. Start the server with "
        f"--host 0.0.0.0 and open the page at this machine's address on the network, e.g. {example}",
    )
