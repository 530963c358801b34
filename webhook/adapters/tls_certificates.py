"""Certificates for the webhook, made and checked with `cryptography` (`idms-guard certs`).

The API server only calls admission webhooks over HTTPS, checks the certificate against the
`caBundle` of the webhook configuration and the name `<service>.<namespace>.svc`, so the
serving certificate carries that name and the CA is handed to the chart. Serving them is
`tls_serving`'s job; this module only writes and reads the files.

Every failure is a `CertificateError` whose one-line message names the file and the
problem, never OpenSSL's traceback, and never the key material.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webhook.errors import CertificateError

CA_CERT_FILE = "ca.crt"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
"""The key names of a `kubernetes.io/tls` Secret (plus `ca.crt`), so a directory written
here can be turned into that Secret, or mounted from one, unchanged."""

CLOCK_SKEW = datetime.timedelta(minutes=1)
"""How far back a new certificate starts: nodes and the API server disagree on the time by
seconds, and a certificate "not yet valid" fails every admission call until they agree."""

MAX_COMMON_NAME = 64  # RFC 5280 ub-common-name; longer names live in the SANs only


@dataclass(frozen=True)
class CertificatePair:
    """A PEM certificate (possibly followed by its chain) and its PEM private key."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)  # a logged pair must not leak the key


def generate_ca(common_name: str = "idms-guard-ca", days: int = 3650) -> CertificatePair:
    """A self-signed CA for the chart's self-signed mode: the API server trusts it via
    `caBundle`; `path_length=0` because it only ever signs the serving certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    except ValueError as error:
        raise CertificateError(f"CA common name {common_name!r}: {error}") from None
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        _validity(days)
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    return _pair(builder.sign(key, hashes.SHA256()), key)


def generate_serving_certificate(
    ca: CertificatePair,
    dns_names: Sequence[str],
    days: int = 365,
    ip_addresses: Sequence[str] = (),
) -> CertificatePair:
    """A serving certificate for `dns_names` (and IPs), signed by `ca`.

    Clients check the SANs only; the CN repeats the first name for people reading it. The
    validity ends no later than the CA's, since the chain is useless after that anyway.
    """
    if not dns_names or not all(dns_names):
        raise CertificateError(f"a serving certificate needs non-empty DNS names, got {dns_names}")
    ca_cert, ca_key = _parse_pair(ca.cert_pem, ca.key_pem, "CA certificate", "CA private key")
    if not _is_ca(ca_cert) or not isinstance(ca_key, _ISSUER_KEY_TYPES):
        raise CertificateError(f"CA certificate {ca_cert.subject.rfc4514_string()}: not a CA")
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    except ValueError as error:
        raise CertificateError(f"serving certificate names {list(dns_names)}: {error}") from None
    short = len(dns_names[0]) <= MAX_COMMON_NAME
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])] if short else []
    builder = (
        _validity(days, not_after=ca_cert.not_valid_after_utc)
        .subject_name(x509.Name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        # RFC 5280 4.2.1.6: with an empty subject the SANs are the identity and are critical.
        .add_extension(x509.SubjectAlternativeName(names), critical=not short)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(ca_cert, ca_key), critical=False)
    )
    return _pair(builder.sign(ca_key, _signature_hash(ca_key)), key)


def service_dns_names(service: str, namespace: str) -> list[str]:
    """Every name a client inside the cluster may use; the API server uses `svc.ns.svc`."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def write_certificate_files(
    directory: Path, ca: CertificatePair, serving: CertificatePair
) -> dict[str, Path]:
    """Write `ca.crt`, `tls.crt` and `tls.key` into `directory`, each atomically.

    A server reloading from this directory sees each file old or new, never half-written;
    between the key and the certificate it may briefly see a mismatched pair, which
    `ReloadingServerContext` rejects (one warning) and picks up at its next check.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CertificateError(f"{directory}: cannot create directory: {_reason(error)}") from None
    files = {
        CA_CERT_FILE: (ca.cert_pem, 0o644),
        KEY_FILE: (serving.key_pem, 0o600),
        CERT_FILE: (serving.cert_pem, 0o644),
    }
    return {
        name: _write_atomically(directory / name, data, mode)
        for name, (data, mode) in files.items()
    }


def load_certificate_pair(cert_path: Path, key_path: Path) -> CertificatePair:
    """Read and check a pair: both parse, the key is unencrypted and matches the certificate."""
    cert_pem = _read(cert_path)
    key_pem = _read(key_path)
    _parse_pair(cert_pem, key_pem, str(cert_path), str(key_path))
    return CertificatePair(cert_pem, key_pem)


_ISSUER_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    dsa.DSAPrivateKey,
)


def _parse_pair(
    cert_pem: bytes, key_pem: bytes, cert_name: str, key_name: str
) -> tuple[x509.Certificate, PrivateKeyTypes]:
    if b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        raise CertificateError(f"{cert_name}: no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        leaf = x509.load_pem_x509_certificates(cert_pem)[0]
    except (ValueError, IndexError):
        raise CertificateError(f"{cert_name}: PEM certificate is truncated or corrupt") from None
    if b"PRIVATE KEY-----" not in key_pem:
        raise CertificateError(f"{key_name}: no PEM private key (-----BEGIN PRIVATE KEY-----)")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise CertificateError(f"{key_name}: private key is encrypted; it must not be") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(
            f"{key_name}: PEM private key is truncated, corrupt or of an unsupported type"
        ) from None
    if _public_der(key.public_key()) != _public_der(leaf.public_key()):
        raise CertificateError(
            f"{key_name}: private key does not match the certificate {cert_name}"
        )
    return leaf, key


def _public_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _validity(days: int, not_after: datetime.datetime | None = None) -> x509.CertificateBuilder:
    if days <= 0:
        raise CertificateError(f"certificate validity must be at least one day, got {days}")
    now = datetime.datetime.now(datetime.UTC)
    end = now + datetime.timedelta(days=days)
    return (
        x509.CertificateBuilder()
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(end, not_after) if not_after else end)
    )


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,  # ECDSA keys sign; they never encipher a premaster secret
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _authority_key_identifier(
    ca_cert: x509.Certificate, ca_key: CertificateIssuerPrivateKeyTypes
) -> x509.AuthorityKeyIdentifier:
    # The CA's own SKI, when it has one: OpenSSL rejects a chain whose AKI and SKI differ,
    # and a CA made elsewhere may have derived its SKI another way.
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    # Ed25519/Ed448 hash internally and refuse a separate digest.
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def _pair(cert: x509.Certificate, key: PrivateKeyTypes) -> CertificatePair:
    return CertificatePair(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _write_atomically(path: Path, data: bytes, mode: int) -> Path:
    # The temporary file is made 0600 by mkstemp and only then opened up to `mode`, so the key
    # is never readable by others, not even for a moment; the rename makes it appear whole.
    temporary: str | None = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise CertificateError(f"{path}: cannot write: {_reason(error)}") from None
    return path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CertificateError(f"{path}: cannot read: {_reason(error)}") from None


def _reason(error: OSError) -> str:
    return error.strerror or str(error)
