"""A real Prometheus for the e2e analysis test: the pinned server scraping the model pods of localkube.

`hack/build-binaries prometheus` (part of `hack/localkube build`) builds it from the Go module proxy into
~/.cache/modelops/bin/prometheus-<version>/. `running_prometheus` runs it on the host with Kubernetes
pod discovery (`kubernetes_sd_configs`, role pod, the localkube kubeconfig, one namespace) and the
relabelling a platform team would use: keep the pods annotated `prometheus.io/scrape: "true"` (the
operator's server pods are), scrape their `http` port, and copy the namespace and pod name into the
`namespace` and `pod` labels that the operator's `prometheusURL` queries select on. Discovery rather
than a target list written by the test: the canary's pods come and go during a rollout, and the labels
are then exactly the ones a real installation produces. The host reaches the pod IPs (the node is this
machine). `Judge` runs the operator's own step analysis over snapshots a test reads itself, so one
window can be judged from the pods directly and from Prometheus. Used by tests/e2e/test_canary.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from localkube_py.settings import read_versions
from modelops_operator.analysis.decision import Phase, Thresholds
from modelops_operator.analysis.samples import Snapshot
from modelops_operator.analysis.step import evaluate
from support.cluster import Poller, stop_process
from support.s3server import free_port
from support.tools import cache_dir

SCRAPE_INTERVAL = "1s"
READY_TIMEOUT_S = 60


def prometheus_binary() -> Path:
    """The pinned Prometheus; AssertionError saying how to build it when it is missing."""
    version = read_versions()["PROMETHEUS_VERSION"]
    binary = cache_dir() / "bin" / f"prometheus-{version}" / "prometheus"
    if not binary.is_file():
        how = "run `hack/build-binaries prometheus` (part of `hack/localkube build`)"
        raise AssertionError(f"{binary} is missing: {how}")
    return binary


def scrape_config(kubeconfig: Path, namespace: str) -> str:
    """prometheus.yml: the model pods of `namespace`, labelled `namespace` and `pod`."""
    return f"""global:
  scrape_interval: {SCRAPE_INTERVAL}
  scrape_timeout: {SCRAPE_INTERVAL}
scrape_configs:
  - job_name: modelops-pods
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: {kubeconfig}
        namespaces: {{names: [{namespace}]}}
    relabel_configs:
      - {{source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], regex: "true",
          action: keep}}
      - {{source_labels: [__meta_kubernetes_pod_container_port_name], regex: http, action: keep}}
      - {{source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path], regex: (.+),
          target_label: __metrics_path__}}
      - {{source_labels: [__meta_kubernetes_namespace], target_label: namespace}}
      - {{source_labels: [__meta_kubernetes_pod_name], target_label: pod}}
"""


@dataclass(frozen=True)
class Prometheus:
    """A running Prometheus and its HTTP API."""

    url: str
    log: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5).json()
        assert answer["status"] == "success", answer
        return list(answer["data"]["result"])

    def wait_scraping(self, namespace: str, pods: int, timeout: float = READY_TIMEOUT_S) -> None:
        """Until `pods` pods of `namespace` are scraped successfully (`up == 1`)."""

        def scraped() -> bool:
            return len(self.query(f'up{{namespace="{namespace}"}} == 1')) >= pods

        try:
            Poller(timeout, interval=0.5, what=f"Prometheus scraping {pods} pods").until(scraped)
        except AssertionError as error:
            targets = httpx.get(f"{self.url}/api/v1/targets", timeout=5).text[-2000:]
            raise AssertionError(
                f"{error}\ntargets: {targets}\nlog: {self.log.read_text()[-2000:]}"
            ) from None


@contextmanager
def running_prometheus(kubeconfig: Path, namespace: str, work: Path) -> Iterator[Prometheus]:
    """Prometheus on a free loopback port, discovering `namespace`'s pods; stopped afterwards."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "prometheus.yml"
    config.write_text(scrape_config(kubeconfig, namespace))
    port = free_port("127.0.0.1")
    log = work / "prometheus.log"
    command = [
        str(prometheus_binary()),
        f"--config.file={config}",
        f"--storage.tsdb.path={work / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = Prometheus(f"http://127.0.0.1:{port}", log)
    try:
        Poller(READY_TIMEOUT_S, interval=0.2, what="Prometheus ready").until(lambda: _ready(server, process))
        yield server
    finally:
        stop_process(process, timeout=20)


def _ready(server: Prometheus, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"Prometheus exited with {process.returncode}: {server.log.read_text()[-2000:]}")
    try:
        return httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class Judge:
    """The operator's step analysis (`analysis.step.evaluate`) of `version` over snapshots fed to it."""

    spec: dict[str, Any]
    version: str
    stable_version: str
    status: dict[str, Any] = field(default_factory=dict)

    def fold(self, snapshot: Snapshot) -> None:
        now = datetime.now(UTC)
        thresholds = Thresholds.from_spec(self.spec)
        progress = evaluate(thresholds, self.status or None, snapshot, now, version=self.version,
                            stable_version=self.stable_version, available=True)  # fmt: skip
        self.status = progress.to_status()

    @property
    def phase(self) -> str:
        return str(self.status.get("phase"))

    @property
    def final(self) -> bool:
        return self.phase in (Phase.FAILED.value, Phase.PASSED.value, Phase.INCONCLUSIVE.value)
