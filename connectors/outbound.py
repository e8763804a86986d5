"""The outbound policy: which hosts and local folders a connector may reach.

A data source's address is typed by whoever holds the API, so a connector must not become a way into
the server's own network (SSRF) or its files. One policy serves every connector:

* **Networks.** By default only public addresses; loopback, private, link-local, CGNAT (100.64.0.0/10),
  multicast, reserved and unspecified ones are refused unless a listed CIDR allows them. The cloud
  metadata services (169.254.169.254, fd00:ec2::254, ...) are refused whatever is listed. IPv6 forms
  that carry an IPv4 address (``::ffff:127.0.0.1``, 6to4, NAT64) are judged by that address.
* **Resolve once.** A name is resolved once per connection, every address it resolves to is checked,
  and the connection goes to the checked address (:meth:`OutboundPolicy.http_client` pins it in the
  transport, keeping the Host header and TLS SNI of the name), so a name that answers a public
  address to the check and a private one to the connection (DNS rebinding) gains nothing.
* **Local roots.** FILESYSTEM folders, GITWIKI local repositories and MediaWiki dumps must lie below
  one of the allowed roots, after symbolic links and ``..`` are resolved. No roots: all refused.

What can be judged from the configuration alone (paths, literal IP hosts) is checked by
CreateDataSource; names are judged when the connector connects, and a refusal fails the sync job.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from connectors.contract import SourceMisconfigured, SourceUnavailable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

# Instance metadata services hand out cloud credentials: never reachable, whatever networks are allowed.
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack
    "169.254.170.2",  # AWS ECS task metadata
    "fd00:ec2::254",  # AWS over IPv6
    "100.100.100.200",  # Alibaba Cloud
))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
NETWORKS_SETTING = "KENSAKU_CONNECTOR_ALLOWED_NETWORKS"
ROOTS_SETTING = "KENSAKU_CONNECTOR_LOCAL_ROOTS"


class TargetRefused(SourceMisconfigured):
    """The outbound policy refuses an address or a path (never retried)."""

    code = "TargetRefused"


def _system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise SourceUnavailable(f"cannot resolve {host}: {error}") from None
    return [str(info[4][0]) for info in infos]


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally (also the legacy IPv4 forms "127.1", "0x7f.1", "2130706433"
    that the resolver would accept); None for a name."""
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64); the address itself otherwise."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _kind(address: IPAddress) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "shared (CGNAT)"
    if address.is_reserved:
        return "reserved"
    if address.is_private or not address.is_global:
        return "private"
    return "public"


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Where connectors may connect and read. The default allows public addresses and no local path."""

    public: bool = True  # every globally routable address
    networks: tuple[Network, ...] = ()  # allowed besides (or, without ``public``, instead of) those
    local_roots: tuple[Path, ...] = ()
    resolver: Resolver = field(default=_system_resolver, compare=False, repr=False)

    @classmethod
    def parse(cls, networks: Iterable[str], roots: Iterable[str | Path] = ()) -> OutboundPolicy:
        """From the settings' strings: CIDRs or the word ``public``; folders. Raises ValueError."""
        entries = [n.strip() for n in networks if n.strip()]
        cidrs: list[Network] = []
        for entry in entries:
            if entry.lower() != "public":
                try:
                    cidrs.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ValueError(f"{NETWORKS_SETTING}: {entry!r} is neither a CIDR nor 'public'") from None
        folders = [Path(r).expanduser() for r in roots if str(r).strip()]
        if any(not f.is_absolute() for f in folders):
            raise ValueError(f"{ROOTS_SETTING}: roots must be absolute paths")
        return cls(public=any(n.lower() == "public" for n in entries), networks=tuple(cidrs),
                   local_roots=tuple(f.resolve() for f in folders))

    # -- addresses ---------------------------------------------------------------------------------

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused, or None when it is allowed."""
        judged = _embedded_ipv4(address)
        if address in METADATA or judged in METADATA:
            return f"{address} is a cloud metadata address, which connectors may never reach"
        if any(address in n or judged in n for n in self.networks):
            return None
        kind = _kind(judged)
        if kind == "public" and self.public:
            return None
        article = "an" if kind[0] in "aeiou" else "a"
        return f"{address} is {article} {kind} address, not allowed by {NETWORKS_SETTING}"

    def check_address(self, address: IPAddress, host: str) -> None:
        reason = self.refusal(address)
        if reason is not None:
            shown = "" if str(address) == host.strip("[]") else f"{host}: "
            raise TargetRefused(f"{shown}{reason}; refused")

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` once and check every address it has: the addresses to connect to, in order."""
        literal = literal_address(host)
        found = [literal] if literal is not None else \
            [ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolver(host, port)]
        addresses = list(dict.fromkeys(found))
        if not addresses:
            raise SourceUnavailable(f"{host} has no address")
        for address in addresses:  # all of them: a name with one bad address is refused as a whole
            self.check_address(address, host)
        return addresses

    def check_url(self, url: str, schemes: tuple[str, ...] = ("http", "https")) -> None:
        """What can be judged without resolving: the scheme, a host, and a literal address."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in schemes or not parts.hostname:
            raise TargetRefused(f"{url} is not an {' or '.join(schemes)} URL with a host; refused")
        literal = literal_address(parts.hostname)
        if literal is not None:
            self.check_address(literal, parts.hostname)

    def resolve_url(self, url: str) -> list[IPAddress]:
        """Check ``url`` and resolve its host (at connect time)."""
        self.check_url(url, (urlsplit(url).scheme.lower(),))
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80, "ssh": 22, "git": 9418}.get(parts.scheme.lower(), 443)
        return self.resolve(parts.hostname or "", port)

    # -- local paths -------------------------------------------------------------------------------

    def check_path(self, path: str | Path) -> Path:
        """``path`` resolved (links and ``..``), if it lies below an allowed root."""
        given = Path(path)
        if not given.is_absolute():
            raise TargetRefused(f"{path} is not an absolute path; refused")
        real = given.resolve()
        if not self.local_roots:
            raise TargetRefused(f"{path}: this server allows no local paths for data sources (start it with"
                                f" --local-root FOLDER, or set {ROOTS_SETTING}, for the folders they may read);"
                                " refused")
        if not any(real == root or root in real.parents for root in self.local_roots):
            allowed = ", ".join(str(r) for r in self.local_roots)
            shown = str(path) if real == given else f"{path} (resolving to {real})"
            raise TargetRefused(f"{shown} is not below the allowed local roots ({allowed}) of {ROOTS_SETTING}; "
                                "refused")
        return real

    # -- HTTP --------------------------------------------------------------------------------------

    def http_client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` whose every connection goes to an address this policy checked (no proxy
        from the environment: a proxy would make the connection the policy never sees)."""
        verify = kwargs.pop("verify", True)
        return httpx.Client(transport=PinnedTransport(self, verify), trust_env=False, **kwargs)


class PinnedBackend(httpcore.NetworkBackend):
    """Resolves and checks the host, then connects to that very address. httpcore takes the TLS server
    name and the Host header from the URL, not from this address, so both stay the name's."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        error: httpcore.ConnectError | None = None
        for address in self.policy.resolve(host, port):  # each checked address in turn, as create_connection does
            try:
                return self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as failed:
                error = failed
        assert error is not None
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise TargetRefused(f"unix socket {path}: refused")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport, its connections made by :class:`PinnedBackend`."""

    def __init__(self, policy: OutboundPolicy, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(verify=verify),
                                             network_backend=PinnedBackend(policy))
