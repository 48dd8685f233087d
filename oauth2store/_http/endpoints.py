"""Which URLs and addresses a request may go to: the https rule, the SSRF rule, and origins.

`check_endpoint` judges a URL before anything is sent: it must read alike to urllib.parse and urllib3, be https
(plain http only on loopback for a local issuer, or when explicitly allowed), and, for a remote issuer, not name a
loopback, private or link-local address other than the issuer's own host. A host name is judged on the address it
reaches: `refuse_private` is the rule the connections apply to the address they connected to, and `check_resolved`
applies it to a fresh lookup for a session that is not ours. These are rules about addresses, kept apart from the
sockets and sessions that enforce them (`connections`) and from the call that chooses them (`transport`).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from .._errors import InsecureEndpointError
from .._validation import NOT_ABSOLUTE, url_problem

_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})
PRIVATE_REFUSED = (
    "points to a loopback, private or link-local address for a remote issuer (allow_private_network=True allows it)"
)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_private_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for an address a remote server must not send requests to: loopback, private (RFC 1918, fc00::/7),
    link-local (169.254/16, fe80::/10, where cloud metadata services live), shared, reserved, multicast, 0.0.0.0."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def _is_private_host(host: str) -> bool:
    """True when `host` is literally a private address (or a loopback name); host names are judged when resolved."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return is_private_address(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return False


def _host_of(url: str | None) -> str | None:
    if url is None:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def private_allowed(host: str, issuer: str | None, allow_private_network: bool) -> bool:
    """Whether a request to `host` may reach loopback or private addresses.

    The issuer's own host was chosen by whoever configured it, and a local issuer (loopback, a development setup)
    vouches for its endpoints; any other host named by a remote issuer's metadata is the SSRF case.
    """
    if allow_private_network or issuer is None:
        return True
    issuer_host = _host_of(issuer)
    return issuer_host is not None and (is_loopback(issuer_host) or issuer_host == host.lower())


def check_endpoint(
    url: str, *, allow_insecure_http: bool = False, issuer: str | None = None, allow_private_network: bool = False
) -> None:
    """Refuse endpoints that are not https, unless on loopback or explicitly allowed for development.

    The URL is judged as the HTTP client will connect to it: it must read alike to urllib.parse and urllib3 (see
    `url_problem`), so a check on one host cannot send the request to another. With an `issuer` that is not on
    loopback, plain http on loopback is no longer exempt, and a host other than the issuer's that is a loopback,
    private or link-local address is refused unless `allow_private_network` (host names are checked again on the
    address connected to, see `Transport`). Without an issuer, the URL is one the caller chose.

    Raises:
        InsecureEndpointError: the URL is ambiguous, plain http where that is not allowed, or a private address.
    """
    problem = url_problem(url) if isinstance(url, str) else NOT_ABSOLUTE
    if problem is not None:
        raise InsecureEndpointError(url if isinstance(url, str) else "", None if problem == NOT_ABSOLUTE else problem)
    from urllib3.util import parse_url

    target = parse_url(url)
    host = (target.host or "").strip("[]")
    issuer_host = _host_of(issuer)
    local_issuer = issuer is None or (issuer_host is not None and is_loopback(issuer_host))
    if target.scheme != "https" and not (allow_insecure_http or (is_loopback(host) and local_issuer)):
        raise InsecureEndpointError(url)
    if _is_private_host(host) and not private_allowed(host, issuer, allow_private_network):
        raise InsecureEndpointError(url, PRIVATE_REFUSED)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in; raises ValueError for an unparsable URL."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def same_origin(first: str, second: str) -> bool:
    """True when both URLs parse and have the same scheme, host and (default-filled) port."""
    try:
        return origin(first) == origin(second)
    except ValueError:
        return False


class PrivateAddressError(Exception):
    """Raised inside urllib3 when a connection reached an address the request's rule refuses (not an OSError, so
    neither urllib3 nor requests retries or wraps it)."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.address = address


def refuse_private(address: str) -> None:
    """The SSRF rule on an address reached (an IP, maybe with an IPv6 zone): PrivateAddressError for a private one."""
    if is_private_address(ipaddress.ip_address(address.split("%", 1)[0])):
        raise PrivateAddressError(address)


def check_resolved(host: str, port: int) -> None:
    """The address rule for a session that is not ours (its connections cannot check themselves): every address
    the name resolves to now must pass. A name that does not resolve is left to the request to report."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return
    for *_, address in found:
        refuse_private(str(address[0]))
