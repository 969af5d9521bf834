"""The cluster's PKI: a CA, serving and client certificates, and the service-account key pair.

Generated with `cryptography` into `<state>/pki` once; later runs reuse what exists. Called by
`cluster.up` and by the integration tier's apiserver fixture.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=3650)
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class CertSpec:
    """One certificate to issue from the cluster CA."""

    name: str
    common_name: str
    organizations: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    server: bool = False
    client: bool = True


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def _load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    return key


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
    )


def ensure_ca(pki: Path) -> None:
    """Create `ca.crt`/`ca.key` when absent."""
    if (pki / "ca.crt").exists():
        return
    pki.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    name = _name("localkube-ca")
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    _write_key(pki / "ca.key", key)
    (pki / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _usages(spec: CertSpec) -> x509.ExtendedKeyUsage:
    usages = []
    if spec.server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if spec.client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    return x509.ExtendedKeyUsage(usages)


def _alt_names(spec: CertSpec) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in spec.dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in spec.ip_addresses]
    return x509.SubjectAlternativeName(names)


def ensure_cert(pki: Path, spec: CertSpec) -> None:
    """Issue `<name>.crt`/`<name>.key` from the CA when absent."""
    if (pki / f"{spec.name}.crt").exists():
        return
    ca_key = _load_key(pki / "ca.key")
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    key = _new_key()
    builder = _builder(_name(spec.common_name, spec.organizations), ca_cert.subject, key.public_key())
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    builder = builder.add_extension(_usages(spec), critical=False)
    if spec.dns_names or spec.ip_addresses:
        builder = builder.add_extension(_alt_names(spec), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(pki / f"{spec.name}.key", key)
    (pki / f"{spec.name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_service_account_keys(pki: Path) -> None:
    """The RSA key pair that signs and verifies service-account tokens."""
    if (pki / "sa.key").exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_key(pki / "sa.key", key)
    (pki / "sa.pub").write_bytes(public)


def apiserver_spec(node_ip: str, service_ip: str) -> CertSpec:
    """The apiserver's serving certificate: every name a client inside or outside the cluster uses."""
    dns = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
    return CertSpec(
        name="apiserver",
        common_name="kube-apiserver",
        dns_names=(*dns, "kubernetes.default.svc.cluster.local"),
        ip_addresses=("127.0.0.1", node_ip, service_ip),
        server=True,
        client=False,
    )


def client_specs(node_name: str) -> list[CertSpec]:
    """Client identities, each matching a role the apiserver bootstraps (RBAC)."""
    return [
        CertSpec("admin", "localkube-admin", ("system:masters",)),
        CertSpec("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",)),
        CertSpec("controller-manager", "system:kube-controller-manager"),
        CertSpec("scheduler", "system:kube-scheduler"),
        CertSpec("kube-proxy", "system:kube-proxy"),
        CertSpec("kubelet", f"system:node:{node_name}", ("system:nodes",)),
    ]


def ensure_pki(pki: Path, node_name: str, node_ip: str, service_ip: str) -> None:
    """Everything the control plane and the node need; idempotent."""
    ensure_ca(pki)
    ensure_service_account_keys(pki)
    for spec in [apiserver_spec(node_ip, service_ip), *client_specs(node_name)]:
        ensure_cert(pki, spec)
