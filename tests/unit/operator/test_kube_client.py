"""The operator's API client keeps as many connections as it has threads sending requests at once."""

from __future__ import annotations

from pathlib import Path

from modelops_operator.kube import load_client

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def test_the_connection_pool_is_sized_for_the_workers(tmp_path: Path) -> None:
    """With more workers than the client's default pool (5 per CPU), each request beyond it would open
    and discard a TLS connection."""
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    api = load_client(str(path), connections=37)
    assert api.configuration.connection_pool_maxsize == 37
    assert api.rest_client.pool_manager.connection_pool_kw["maxsize"] == 37
    assert load_client(str(path)).configuration.connection_pool_maxsize != 37, "one client's size, not all"
