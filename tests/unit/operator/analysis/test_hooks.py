"""The operator-facing calls: collect (pod proxy or Prometheus over real HTTP) and judge.

A local HTTP server stands in for the apiserver's pod proxy and for Prometheus, answering with
recorded metrics; it proves the request the kubernetes client and httpx really send, not cluster
behaviour (the e2e test covers that).
"""

import base64
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from kubernetes import client

from modelops.vocabulary import METRICS_TOKEN_HEADER
from modelops_operator.analysis import Thresholds, hooks
from modelops_operator.analysis.samples import ERRORS, REQUESTS
from modelops_operator.analysis.stored import StoredAnalysis
from modelops_operator.kube import Kube
from modelops_operator.metrics_auth import MetricsToken
from support.recorded_metrics import RecordedPod, prometheus_answer

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ObservedPod:
    name: str
    version: str | None


PODS = (ObservedPod("md-new", "v1.1.0"), ObservedPod("md-old", "v1.0.0"))


class FakeEndpoints:
    """What the local server answers: pod /metrics via the proxy path, and Prometheus queries."""

    def __init__(self) -> None:
        self.pods = {"md-new": RecordedPod(), "md-old": RecordedPod()}
        self.paths: list[str] = []
        self.metrics_token: str | None = None  # metricsAuth: the pods want this token
        self.secrets: dict[str, dict[str, Any]] = {}  # Secret name in ns → object

    def answer(self, raw_path: str, headers: Mapping[str, str]) -> tuple[int, str]:
        url = urlparse(raw_path)
        self.paths.append(unquote(url.path))
        if url.path == "/api/v1/query":
            assert parse_qs(url.query)["query"]
            return 200, json.dumps(prometheus_answer("ns", self.pods))
        for name, secret in self.secrets.items():
            if url.path == f"/api/v1/namespaces/ns/secrets/{name}":
                return 200, json.dumps(secret)
        for name, pod in self.pods.items():
            if unquote(url.path) == f"/api/v1/namespaces/ns/pods/{name}:8080/proxy/metrics":
                if self.metrics_token and headers.get(METRICS_TOKEN_HEADER) != self.metrics_token:
                    return 401, '{"error": "missing or invalid metrics token"}'
                return 200, pod.exposition()
        return 404, "{}"


@pytest.fixture
def endpoints() -> Iterator[tuple[FakeEndpoints, str]]:
    fake = FakeEndpoints()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = fake.answer(self.path, self.headers)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def api_client(url: str) -> Kube:
    configuration = client.Configuration()
    configuration.host = url
    return Kube(client.ApiClient(configuration))


def model_deployment(
    analysis: dict[str, Any] | None, status_analysis: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"model": "safety_classifier", "version": "1.1.0"}
    if analysis is not None:
        spec["rollback"] = {"analysis": analysis}
    status: dict[str, Any] = {"stableVersion": "v1.0.0"}
    if status_analysis is not None:
        status["analysis"] = status_analysis
    return {"metadata": {"namespace": "ns", "name": "md"}, "spec": spec, "status": status}


def collect(kube: Kube, md: dict[str, Any], candidate: str, pods: Any, now: datetime, **kw: Any) -> Any:
    """`hooks.collect` with the thresholds parsed from `md` (the operator parses them in observe)."""
    stored = StoredAnalysis.of(md.get("status"))
    return hooks.collect(kube, md, _thresholds(md), candidate, pods, stored=stored, now=now, **kw)


def judge(md: dict[str, Any], candidate: str, stable: str, snapshot: Any, now: datetime) -> Any:
    """`hooks.judge` with the thresholds parsed from `md` and its analysis as `reconcile` resumes it."""
    status = md.get("status") or {}
    stored = StoredAnalysis.of(status).resumable(status.get("failedVersions") or [])
    return hooks.judge(stored, _thresholds(md), candidate, stable, snapshot, now=now)


def _thresholds(md: dict[str, Any]) -> Thresholds:
    return Thresholds.from_spec(md["spec"]["rollback"]["analysis"])


ANALYSIS = {"windowSeconds": 10, "intervalSeconds": 2, "maxErrorRate": 0.05, "minRequests": 10}


def test_no_scrape_once_the_stable_version_is_served_again(endpoints: tuple[FakeEndpoints, str]) -> None:
    fake, url = endpoints

    assert collect(api_client(url), model_deployment(ANALYSIS), "1.0.0", PODS, NOW) is None
    assert fake.paths == []


def test_metrics_are_read_through_the_pod_proxy(endpoints: tuple[FakeEndpoints, str]) -> None:
    fake, url = endpoints
    fake.pods["md-new"].serve(3, code="500")
    fake.pods["md-old"].serve(4)

    snapshot = collect(api_client(url), model_deployment(ANALYSIS), "1.1.0", PODS, NOW)

    assert snapshot is not None and snapshot.errors == ()
    assert snapshot.candidate["md-new"][ERRORS] == 3
    assert snapshot.baseline["md-old"][REQUESTS] == 4
    assert sorted(fake.paths) == [
        "/api/v1/namespaces/ns/pods/md-new:8080/proxy/metrics",
        "/api/v1/namespaces/ns/pods/md-old:8080/proxy/metrics",
    ]


def test_an_unreachable_pod_is_an_error_not_an_exception(endpoints: tuple[FakeEndpoints, str]) -> None:
    _, url = endpoints
    pods = (*PODS, ObservedPod("md-gone", "v1.1.0"))

    snapshot = collect(api_client(url), model_deployment(ANALYSIS), "1.1.0", pods, NOW)

    assert snapshot is not None
    assert len(snapshot.errors) == 1
    assert snapshot.errors[0].startswith("pod md-gone: KubeError: HTTP 404")


def test_metrics_are_read_from_prometheus_when_configured(endpoints: tuple[FakeEndpoints, str]) -> None:
    fake, url = endpoints
    fake.pods["md-new"].serve(2)

    snapshot = collect(
        api_client("http://127.0.0.1:9"),
        model_deployment({**ANALYSIS, "prometheusURL": url}),
        "1.1.0",
        PODS,
        NOW,
    )

    assert snapshot is not None and snapshot.errors == ()
    assert snapshot.candidate["md-new"][REQUESTS] == 2
    assert fake.paths == ["/api/v1/query"]


def test_collect_then_judge_until_the_verdict(endpoints: tuple[FakeEndpoints, str]) -> None:
    fake, url = endpoints
    md = model_deployment(ANALYSIS)
    actions = []
    for second in range(4):
        now = NOW + timedelta(seconds=second)
        snapshot = collect(api_client(url), md, "1.1.0", PODS, now)
        progress = judge(md, "1.1.0", "v1.0.0", snapshot, now)
        md["status"]["analysis"] = json.loads(json.dumps(progress.to_status()))
        if progress.should_rollback:  # the operator records the failed version in the same status write
            md["status"]["failedVersions"] = [{"version": "v1.1.0", "figures": progress.failure_figures()}]
        actions.append((second, snapshot is not None, progress.action))
        fake.pods["md-new"].serve(4)
        fake.pods["md-new"].serve(1, code="503")

    # scrapes every intervalSeconds (0, 2); by second 2: 10 requests, 2 answered 503 (20%): Fail
    assert actions == [(0, True, "Wait"), (1, False, "Wait"), (2, True, "Fail"), (3, False, "Fail")]
    assert "error rate 20.0% (2 of 10 requests answered 5xx or 429)" in md["status"]["analysis"]["message"]


def test_a_retried_failed_version_is_analysed_afresh(endpoints: tuple[FakeEndpoints, str]) -> None:
    _, url = endpoints
    failed = {
        "phase": "Failed",
        "version": "v1.1.0",
        "message": "error rate 30.0%",
        "state": {"version": "v1.1.0"},
    }
    md = model_deployment(ANALYSIS, failed)
    md["status"]["failedVersions"] = [{"version": "v1.1.0", "cause": "AnalysisFailed"}]

    assert judge(md, "1.1.0", "v1.0.0", None, NOW).action == "Fail"
    assert collect(api_client(url), md, "1.1.0", PODS, NOW) is None

    md["status"]["failedVersions"] = []  # the retry annotation removed the entry
    assert judge(md, "1.1.0", "v1.0.0", None, NOW).phase == "Pending"
    assert collect(api_client(url), md, "1.1.0", PODS, NOW) is not None


def _token_secret(token: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "metrics", "namespace": "ns"},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }


def test_metrics_auth_scrape_presents_the_token_from_the_platform_secret(
    endpoints: tuple[FakeEndpoints, str],
) -> None:
    fake, url = endpoints
    fake.metrics_token = "t0ken"
    fake.secrets["metrics"] = _token_secret("t0ken\n")
    fake.pods["md-new"].serve(5)
    kube = api_client(url)

    without = collect(kube, model_deployment(ANALYSIS), "1.1.0", PODS, NOW)
    token = MetricsToken(kube, "ns", "metrics")
    snapshot = collect(kube, model_deployment(ANALYSIS), "1.1.0", PODS, NOW, token=token)

    assert without is not None and len(without.errors) == 2 and "HTTP 401" in without.errors[0]
    assert snapshot is not None and snapshot.errors == (), snapshot.errors
    assert snapshot.candidate["md-new"][REQUESTS] == 5
    assert fake.paths.count("/api/v1/namespaces/ns/secrets/metrics") == 1, "the Secret is read once"


@pytest.mark.parametrize(
    ("secrets", "reason"),
    [
        ({}, "metrics token Secret ns/metrics: not found"),
        ({"metrics": _token_secret("")}, "no token in key 'token'"),
    ],
    ids=["missing", "empty"],
)
def test_metrics_auth_without_a_usable_secret_is_a_read_error(
    endpoints: tuple[FakeEndpoints, str], secrets: dict[str, Any], reason: str
) -> None:
    fake, url = endpoints
    fake.metrics_token = "t0ken"
    fake.secrets.update(secrets)
    kube = api_client(url)

    snapshot = collect(
        kube, model_deployment(ANALYSIS), "1.1.0", PODS, NOW, token=MetricsToken(kube, "ns", "metrics")
    )

    assert snapshot is not None and snapshot.candidate == {}
    assert len(snapshot.errors) == 2 and reason in snapshot.errors[0], snapshot.errors
