"""TLS certificates for grading over Dask: a private CA and one certificate each for scheduler, workers, grader.

``python -m course_lib.grading certs DIR`` writes them (and ``DIR/dask.yaml``, dask's own configuration
pointing at them), so that the scheduler accepts only workers and clients holding a certificate signed by
this CA. distributed checks both ends of every connection against the CA (mutual TLS); it does not check
host names, so one set of certificates serves every machine of the cluster.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

ROLES = ("scheduler", "worker", "client")


@dataclass
class CertPaths:
    """The files `make_certs` wrote."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def config(self) -> Path:
        return self.folder / "dask.yaml"

    def cert(self, role: str) -> Path:
        return self.folder / f"{role}.pem"

    def key(self, role: str) -> Path:
        return self.folder / f"{role}-key.pem"


def _write(path: Path, data: bytes, private: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _names(hosts: list[str]) -> list:
    from cryptography import x509

    names = []
    for host in dict.fromkeys(["localhost", "127.0.0.1", socket.gethostname(), *hosts]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def make_certs(folder: Path, hosts: list[str] | None = None, days: int = 365, force: bool = False) -> CertPaths:
    """Write a new CA and a certificate per role into `folder` (keys mode 600), and ``dask.yaml``.

    Refuses to overwrite an existing CA unless `force`: certificates handed to workers would stop working.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    paths = CertPaths(Path(folder))
    if paths.ca.exists() and not force:
        raise FileExistsError(f"{paths.ca} exists: certificates already made there (use --force to replace them, "
                              "then hand the new ones to every worker)")
    paths.folder.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.folder, 0o700)
    now = datetime.datetime.now(datetime.timezone.utc)
    pem = serialization.Encoding.PEM

    def key_bytes(key) -> bytes:
        return key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def builder(subject: str, issuer: str, public_key) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=days)))

    ca_name = "cnn-course grading CA"
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (builder(ca_name, ca_name, ca_key.public_key())
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False, key_agreement=False,
                                            key_cert_sign=True, crl_sign=True, encipher_only=False,
                                            decipher_only=False), critical=True)
               .sign(ca_key, hashes.SHA256()))
    _write(paths.ca_key, key_bytes(ca_key), private=True)
    _write(paths.ca, ca_cert.public_bytes(pem), private=False)
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (builder(f"cnn-course grading {role}", ca_name, key.public_key())
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName(_names(list(hosts or []))), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(paths.key(role), key_bytes(key), private=True)
        _write(paths.cert(role), cert.public_bytes(pem), private=False)
    _write(paths.config, dask_config(paths).encode(), private=False)
    return paths


def dask_config(paths: CertPaths) -> str:
    """dask's configuration (YAML) for TLS with these certificates: `export DASK_CONFIG=DIR` to use it."""
    lines = ["distributed:", "  comm:", "    require-encryption: true", "    tls:",
             f"      ca-file: {paths.ca.resolve()}"]
    for role in ROLES:
        lines += [f"      {role}:", f"        cert: {paths.cert(role).resolve()}",
                  f"        key: {paths.key(role).resolve()}"]
    return "\n".join(lines) + "\n"


def security(paths: CertPaths, roles: tuple[str, ...] = ROLES):
    """A ``distributed.Security`` that requires TLS with these certificates, for the given roles."""
    from distributed.security import Security

    kwargs = {"tls_ca_file": str(paths.ca), "require_encryption": True}
    for role in roles:
        kwargs[f"tls_{role}_cert"] = str(paths.cert(role))
        kwargs[f"tls_{role}_key"] = str(paths.key(role))
    return Security(**kwargs)


def instructions(paths: CertPaths) -> str:
    """What to do with the certificates, printed by the `certs` command."""
    d = paths.folder.resolve()
    return "\n".join([
        f"wrote a CA and certificates for scheduler, worker and client to {d} (keys readable by you alone)",
        f"  keep {paths.ca_key.name} private (it signs new certificates); hand a worker machine only "
        "ca.pem, worker.pem and worker-key.pem",
        f"  scheduler:  dask scheduler --tls-ca-file {d}/ca.pem --tls-cert {d}/scheduler.pem "
        f"--tls-key {d}/scheduler-key.pem",
        f"  worker:     dask worker tls://SCHEDULER:8786 --nthreads 1 --tls-ca-file {d}/ca.pem "
        f"--tls-cert {d}/worker.pem --tls-key {d}/worker-key.pem",
        f"  grading:    DASK_CONFIG={d} python -m course_lib.grading autograde ASSIGNMENT --scheduler "
        "tls://SCHEDULER:8786",
    ])
