"""The certificates a replica shows its TLS clients and peers, and checks theirs against.

``server_context`` turns a replica's ``TlsSettings`` (from the cluster file)
into the ``ssl.SSLContext`` its TLS port serves with. It runs before the
replica opens its data directory, so a missing file, an unreadable or
encrypted key, or a key that is not the certificate's refuses the start with
one line naming the file (``CertificateError``), instead of a traceback from
the first handshake or a port that accepts and then drops every client.

The context follows Redis's defaults: TLS 1.2 and 1.3 (``tls-protocols``),
and ``tls-auth-clients yes`` — a client must present a certificate that the
CA file signed — unless the file says ``optional`` (checked when presented)
or ``no``.

``peer_contexts`` builds, from the same files with the same checks and error
words, the two contexts of mutual TLS between replicas (``[cluster]
tls_peers``): a peer always presents a certificate, whatever
``tls_auth_clients`` says of clients.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from epaxosdb.clusterfile import TlsSettings

VERIFY_MODES = {
    "yes": ssl.CERT_REQUIRED,
    "optional": ssl.CERT_OPTIONAL,
    "no": ssl.CERT_NONE,
}
"""``tls-auth-clients`` → what the server asks of a client's certificate."""


class CertificateError(ValueError):
    """A TLS file is missing, unreadable, or does not hold what it should."""


def server_context(tls: TlsSettings) -> ssl.SSLContext:
    """The server-side context for ``tls``; ``CertificateError`` names the file at fault."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _load(context, tls)
    if tls.ca_cert_file is None and tls.auth_clients != "no":
        raise CertificateError(
            f"tls_auth_clients is {tls.auth_clients!r} but no tls_ca_cert_file names the CA "
            "that client certificates are checked against"
        )
    context.verify_mode = VERIFY_MODES[tls.auth_clients]
    return context


@dataclass(frozen=True)
class PeerContexts:
    """The two sides of mutual TLS between replicas (``[cluster] tls_peers``).

    Both present the replica's own certificate (``tls_cert_file``) and require the
    other's, chained to ``tls_ca_cert_file``: ``accept`` serves the peer port, ``dial``
    connects to the peers with higher ids.

    **No hostname check**, as Redis does not check one for ``tls-replication`` or
    ``tls-cluster``. An acceptor does not know which replica is calling before the
    handshake, nor from which address (NAT, a multi-homed host), so it has no name to
    check; the dialler knows only the IP in the cluster file, and checking it would
    tie every certificate to an address (re-addressing a replica would mean reissuing
    it) for nothing the handshake below does not already prove. What the certificate
    proves is membership of the CA's set; which replica is on the
    other end is then proven by the existing handshake (cluster id, replica id, HMAC
    of the shared ``secret``) inside the encrypted channel. ``tls_ca_cert_file`` serves
    clients and peers alike, so a client certificate from that CA gets through the TLS
    layer of a peer port, and no further: the ``secret`` stays the proof of being a
    replica (defence in depth, not a second copy of the same check).
    """

    accept: ssl.SSLContext
    dial: ssl.SSLContext


def peer_contexts(tls: TlsSettings) -> PeerContexts:
    """The contexts of a replica's peer connections; ``CertificateError`` names the file
    at fault (the same checks and words as ``server_context``)."""
    if tls.ca_cert_file is None:
        raise CertificateError("tls_peers needs tls_ca_cert_file to check peers' certificates")
    accept = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    dial = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    dial.check_hostname = False  # see PeerContexts: the CA is what is checked
    for context in (accept, dial):
        _load(context, tls)
        context.verify_mode = ssl.CERT_REQUIRED
    return PeerContexts(accept, dial)


def _load(context: ssl.SSLContext, tls: TlsSettings) -> None:
    """TLS 1.2 at least, the replica's certificate and key, and the CA file if any, each
    file checked so that a failure names it."""
    if tls.cert_file is None or tls.key_file is None:
        raise CertificateError("TLS needs tls_cert_file and tls_key_file")
    cert_text = _read(tls.cert_file, "certificate file (tls_cert_file)")
    key_text = _read(tls.key_file, "private key file (tls_key_file)")
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if b"ENCRYPTED" in key_text:
        raise CertificateError(
            f"private key file {tls.key_file} is encrypted with a passphrase; epaxosdb reads "
            "unencrypted keys only (decrypt it with: openssl pkey -in KEY -out PLAIN.key)"
        )
    try:
        # A callback, not None: for an encrypted key OpenSSL would otherwise ask for a
        # passphrase on the terminal, and the replica would hang there.
        context.load_cert_chain(tls.cert_file, tls.key_file, password=lambda: b"")
    except ssl.SSLError as exc:
        problem = _chain_problem(tls.cert_file, tls.key_file, cert_text, key_text, exc)
        raise CertificateError(problem) from None
    except OSError as exc:
        raise CertificateError(
            f"cannot load certificate {tls.cert_file} with key {tls.key_file}: {exc}"
        ) from None
    if tls.ca_cert_file is not None:
        _read(tls.ca_cert_file, "CA certificate file (tls_ca_cert_file)")
        try:
            context.load_verify_locations(cafile=tls.ca_cert_file)
        except (ssl.SSLError, OSError) as exc:
            raise CertificateError(
                f"CA certificate file (tls_ca_cert_file) {tls.ca_cert_file} holds no usable "
                f"PEM certificate: {_reason(exc)}"
            ) from None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _chain_problem(
    cert: Path, key: Path, cert_text: bytes, key_text: bytes, exc: ssl.SSLError
) -> str:
    """Which of the two files is wrong, as far as OpenSSL's error and a look inside tell."""
    if exc.reason == "KEY_VALUES_MISMATCH":
        return f"private key file {key} does not hold the key of certificate {cert}"
    if b"-----BEGIN CERTIFICATE-----" not in cert_text:
        return f"certificate file (tls_cert_file) {cert} holds no PEM certificate"
    if b"PRIVATE KEY-----" not in key_text:
        return f"private key file (tls_key_file) {key} holds no PEM private key"
    return f"cannot load certificate {cert} with private key {key}: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
