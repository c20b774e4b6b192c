"""The certificates a replica shows its TLS clients and checks theirs against.

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
"""

from __future__ import annotations

import ssl
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
    if tls.cert_file is None or tls.key_file is None:
        raise CertificateError("TLS needs tls_cert_file and tls_key_file")
    cert_text = _read(tls.cert_file, "certificate file (tls_cert_file)")
    key_text = _read(tls.key_file, "private key file (tls_key_file)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
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
    elif tls.auth_clients != "no":
        raise CertificateError(
            f"tls_auth_clients is {tls.auth_clients!r} but no tls_ca_cert_file names the CA "
            "that client certificates are checked against"
        )
    context.verify_mode = VERIFY_MODES[tls.auth_clients]
    return context


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
