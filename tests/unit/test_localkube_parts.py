"""Unit tests of localkube's pure parts (hack/localkube_py): Dockerfile input discovery for the image
cache (and which podman tags count as content-keyed), iptables clean-up filtering, the PKI's identities
and names, and pid-file process tracking. The cluster behaviour itself is proved by
tests/e2e/test_localkube.py on a real cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from localkube_py import pki, procs
from localkube_py.base_image import KEYED_TAG
from localkube_py.images import copy_sources, input_files, spec_for
from localkube_py.network import _without_owned_chains


def test_copy_sources_reads_copy_and_add_but_not_other_stages(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n# COPY ignored.txt /x\n"
        "COPY pyproject.toml README.md ./\nCOPY --chown=1:1 modelops \\\n  ./modelops\n"
        "ADD server /src/server\nCOPY --from=build /out /out\nRUN echo COPY nothing\n"
    )
    assert copy_sources(dockerfile) == ["pyproject.toml", "README.md", "modelops", "server"]


def test_the_node_backend_image_is_keyed_by_the_client_and_the_example_sources() -> None:
    files = input_files(spec_for("node-backend"))
    for path in (
        "clients/node/src/local.ts",
        "clients/node/package-lock.json",
        "examples/node-backend/app.js",
    ):
        assert path in files
    assert not [f for f in files if "node_modules/" in f or f.startswith("clients/node/dist/")]


def test_only_content_keyed_tags_are_pruned() -> None:
    assert KEYED_TAG.fullmatch("ad44e0bf443c88a1") and KEYED_TAG.fullmatch("20-d2d73ec0992e4448")
    assert not any(KEYED_TAG.fullmatch(tag) for tag in ("dev", "bookworm", "latest", "v1.34.4"))


def test_iptables_filter_drops_only_kube_and_cni_chains() -> None:
    dump = "\n".join(
        [
            "*nat",
            ":PREROUTING ACCEPT [0:0]",
            ":KUBE-SERVICES - [0:0]",
            ":CNI-abc123 - [0:0]",
            ":DOCKER - [0:0]",
            "-A PREROUTING -j KUBE-SERVICES",
            "-A POSTROUTING -s 10.244.0.5/32 -j CNI-abc123",
            "-A PREROUTING -j DOCKER",
            "COMMIT",
        ]
    )
    cleaned = _without_owned_chains(dump)
    assert cleaned is not None
    assert "KUBE-" not in cleaned and "CNI-" not in cleaned
    assert ":DOCKER - [0:0]" in cleaned and "-A PREROUTING -j DOCKER" in cleaned
    assert _without_owned_chains("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT") is None


def test_pki_issues_role_identities_and_apiserver_names(tmp_path: Path) -> None:
    pki.ensure_pki(tmp_path, "localkube", "192.0.2.2", "10.96.0.1")
    kubelet = x509.load_pem_x509_certificate((tmp_path / "kubelet.crt").read_bytes())
    assert kubelet.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:localkube"
    assert kubelet.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    server = x509.load_pem_x509_certificate((tmp_path / "apiserver.crt").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {
        "127.0.0.1",
        "192.0.2.2",
        "10.96.0.1",
    }
    before = (tmp_path / "ca.crt").read_bytes()
    pki.ensure_pki(tmp_path, "localkube", "192.0.2.2", "10.96.0.1")
    assert (tmp_path / "ca.crt").read_bytes() == before, "a second run must reuse the CA"


def test_pidfile_tracks_and_stops_exactly_the_started_process(tmp_path: Path) -> None:
    pidfile = procs.PidFile(tmp_path, "sleeper")
    pid = procs.start(
        pidfile, [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "sleeper.log"
    )
    assert pidfile.running_pid() == pid
    assert procs.stop(pidfile) is True
    assert not procs.alive(pid)
    assert pidfile.running_pid() is None
    assert procs.stop(pidfile) is False


def test_a_reused_pid_is_not_mistaken_for_ours(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "ghost.pid").write_text(f"{other.pid} 1\n")
        assert procs.PidFile(tmp_path, "ghost").running_pid() is None
        assert procs.stop(procs.PidFile(tmp_path, "ghost")) is False
        assert procs.alive(other.pid)
    finally:
        other.kill()
        other.wait()
