"""Operator scale benchmark: N ModelDeployments on a real apiserver, this tree's operator vs a baseline.

For each implementation (the operator of `--baseline-ref`, checked out into a temporary directory, and
the one in this tree) and each object count, on a fresh loopback control plane (no kubelet: every
ModelDeployment has `replicas: 0`, as in the issue's measurement):

- apply -> Deployment created, p50/p99 (a watch on Deployments timestamps each ADDED event);
- seconds until every ModelDeployment has a status, and until every one is Available (its Deployment's
  controller has caught up too: with 1,000 Deployments the controller-manager needs minutes);
- then `--idle-seconds` of idleness: operator CPU (% of one core, from /proc), RSS, and apiserver
  requests/s (from the apiserver's own `apiserver_request_total`); then the same window with the
  operator stopped, since the controller-manager's own requests are in that counter too;
- during the burst (first create to every object settled): apiserver requests per object (the bench's
  creates and the controller-manager's requests are in it too, the same for both) and operator CPU s;
- before the operator stops, one ModelDeployment is rolled to a new version with `replicas: 1` and
  `progressDeadlineSeconds: 10`; with no kubelet its pod never becomes ready, so the rollout fails at
  that deadline: `failed_rollout_detect_s` is how long after the deadline `status.failedVersions` says
  so (the same few seconds at 1,000 objects as at 1 is the goal).

Ratios (this tree ÷ baseline) are printed for each count. Run from the repository root:

    .venv/bin/python bench/bench_operator.py --counts 100,1000 --idle-seconds 120

Needs `hack/localkube build` (the Kubernetes binaries). Each run takes a few minutes per count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack"))

from kubernetes import client, config, watch  # noqa: E402

from localkube_py.loopback import loopback_plane, start_plane, stop_plane  # noqa: E402
from localkube_py.settings import Layout  # noqa: E402
from modelops.names import deployment_name, model_version_name  # noqa: E402

GROUP, VERSION = "modelops.io", "v1alpha1"
MODEL = "safety_classifier"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    implementation: str
    objects: int
    apply_to_deployment_p50_s: float
    apply_to_deployment_p99_s: float
    all_status_s: float
    all_available_s: float
    idle_operator_cpu_pct: float
    idle_apiserver_rps: float
    idle_apiserver_rps_operator_stopped: float
    operator_rss_mb: float
    failed_rollout_detect_s: float
    burst_apiserver_requests_per_object: float
    burst_operator_cpu_s: float


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _apiserver_requests(kubectl: list[str]) -> float:
    text = subprocess.run([*kubectl, "get", "--raw", "/metrics"], check=True, capture_output=True, text=True)
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.stdout.splitlines()
        if line.startswith("apiserver_request_total{")
    )


@contextmanager
def _baseline_tree(ref: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp)


class DeploymentWatch:
    """Timestamps the first ADDED event of every Deployment, in a thread."""

    def __init__(self, apps: client.AppsV1Api) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._run, args=(apps,), daemon=True)
        self._thread.start()

    def _run(self, apps: client.AppsV1Api) -> None:
        try:
            for event in self._watch.stream(apps.list_deployment_for_all_namespaces, timeout_seconds=3600):
                meta = event["object"].metadata
                self.seen.setdefault((meta.namespace, meta.name), time.monotonic())
        except Exception:  # the apiserver stops at the end of the run
            return

    def stop(self) -> None:
        self._watch.stop()


def _objects(namespace: str, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    version = f"v1.0.{index}"
    mv = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": model_version_name(MODEL, version), "namespace": namespace},
        "spec": {
            "model": MODEL,
            "version": version,
            "artifact": {"uri": f"/app/models/{MODEL}/{version}", "format": "onnx", "sha256": "ab" * 32},
        },
    }
    md = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelDeployment",
        "metadata": {"name": deployment_name(MODEL, f"e{index}"), "namespace": namespace},
        "spec": {"model": MODEL, "environment": f"e{index}", "version": version, "replicas": 0},
    }
    return mv, md


def _operator(tree: Path, kubeconfig: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELOPS_OPERATOR_")}
    env.update(
        PYTHONPATH=f"{tree}:{tree / 'operator'}:{tree / 'server'}",
        MODELOPS_OPERATOR_METRICS_PORT="0",
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "modelops_operator.main", "--kubeconfig", str(kubeconfig)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tree,
        )


def _wait(what: str, check: Any, timeout: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not reached in {timeout:.0f}s")
        time.sleep(0.5)
    return time.monotonic() - started


FAILING_INDEX = 1_000_000  # a version no other object uses
FAILING_DEADLINE_S = 10  # the CRD's minimum progressDeadlineSeconds


def _failed_rollout_s(custom: client.CustomObjectsApi, namespace: str, name: str) -> float:
    """Roll `name` to a version whose pod never becomes ready: seconds from its deadline to the failure."""
    mv, _ = _objects(namespace, FAILING_INDEX)
    version = mv["spec"]["version"]
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "modelversions", mv)
    patch = {
        "spec": {
            "version": version,
            "replicas": 1,
            "rollback": {"progressDeadlineSeconds": FAILING_DEADLINE_S},
        }
    }
    # A dict goes as a merge patch.
    custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, "modeldeployments", name, patch)
    started = time.monotonic()

    def failed() -> bool:
        md = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "modeldeployments", name)
        return any(f.get("version") == version for f in (md.get("status") or {}).get("failedVersions") or [])

    _wait(f"{name} {version} failed", failed, FAILING_DEADLINE_S + 120)
    return time.monotonic() - started - FAILING_DEADLINE_S


def _all_have_status(custom: client.CustomObjectsApi, count: int) -> bool:
    items = custom.list_cluster_custom_object(GROUP, VERSION, "modeldeployments")["items"]
    return sum(1 for md in items if (md.get("status") or {}).get("phase")) >= count


def _all_settled(custom: client.CustomObjectsApi, count: int) -> bool:
    """Every ModelDeployment settled, Available or failed (the old operator fails some under load): its
    Deployment's controller is done too, so the cluster is idle."""
    items = custom.list_cluster_custom_object(GROUP, VERSION, "modeldeployments")["items"]
    settled = {"Available", "Degraded", "RolledBack"}
    return sum(1 for md in items if (md.get("status") or {}).get("phase") in settled) >= count


def run_one(
    name: str,
    tree: Path,
    count: int,
    *,
    namespaces: int,
    idle_s: float,
    settle_s: float,
    work: Path,
    logs: Path,
) -> Result:
    plane = loopback_plane(Layout.from_environment(), work / f"{name}-{count}")
    kubeconfig = start_plane(plane)
    operator: subprocess.Popen[bytes] | None = None
    try:
        api = config.new_client_from_config(str(kubeconfig))
        kubectl = [str(plane.kube_bin / "kubectl"), "--kubeconfig", str(kubeconfig)]
        crds = [f"-f={f}" for f in sorted((tree / "crds").glob("*.yaml"))]
        subprocess.run([*kubectl, "apply", "--server-side", *crds], check=True)
        subprocess.run(
            [*kubectl, "wait", "--for=condition=Established", "crd", "--all"],
            check=True,
        )
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        spaces = [f"bench-{i}" for i in range(namespaces)]
        for ns in spaces:
            core.create_namespace({"metadata": {"name": ns}})
        operator = _operator(tree, kubeconfig, logs / f"{name}-{count}.log")
        watcher = DeploymentWatch(client.AppsV1Api(api))
        time.sleep(5)  # the operator's watches start; not measured
        applied: dict[tuple[str, str], float] = {}
        burst_cpu0, burst_req0 = _cpu_seconds(operator.pid), _apiserver_requests(kubectl)
        for index in range(count):
            ns = spaces[index % namespaces]
            mv, md = _objects(ns, index)
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, "modelversions", mv)
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, "modeldeployments", md)
            applied[(ns, md["metadata"]["name"])] = time.monotonic()
        started = min(applied.values())
        _wait("every Deployment created", lambda: len(watcher.seen) >= count, 1800)
        _wait("every status written", lambda: _all_have_status(custom, count), 1800)
        all_status_s = time.monotonic() - started
        latencies = [watcher.seen[key] - at for key, at in applied.items()]
        watcher.stop()
        _wait("every ModelDeployment settled", lambda: _all_settled(custom, count), 1800)
        settled_s = time.monotonic() - started
        burst_cpu, burst_req = (
            _cpu_seconds(operator.pid) - burst_cpu0,
            _apiserver_requests(kubectl) - burst_req0,
        )
        time.sleep(settle_s)  # the last events and status writes drain before "idle" is measured
        cpu0, req0, t0 = _cpu_seconds(operator.pid), _apiserver_requests(kubectl), time.monotonic()
        time.sleep(idle_s)
        cpu1, req1, t1 = _cpu_seconds(operator.pid), _apiserver_requests(kubectl), time.monotonic()
        rss = _rss_mb(operator.pid)
        first = next(iter(applied))
        failed_detect_s = _failed_rollout_s(custom, *first)
        operator.terminate()
        operator.wait(timeout=30)
        req2, t2 = _apiserver_requests(kubectl), time.monotonic()
        time.sleep(idle_s)  # the same window without the operator: what the controller-manager asks
        req3, t3 = _apiserver_requests(kubectl), time.monotonic()
        return Result(
            implementation=name,
            objects=count,
            apply_to_deployment_p50_s=round(statistics.median(latencies), 3),
            apply_to_deployment_p99_s=round(_percentile(latencies, 0.99), 3),
            all_status_s=round(all_status_s, 1),
            all_available_s=round(settled_s, 1),
            idle_operator_cpu_pct=round(100 * (cpu1 - cpu0) / (t1 - t0), 2),
            idle_apiserver_rps=round((req1 - req0 - 1) / (t1 - t0), 2),
            idle_apiserver_rps_operator_stopped=round((req3 - req2 - 1) / (t3 - t2), 2),
            operator_rss_mb=round(rss, 1),
            failed_rollout_detect_s=round(failed_detect_s, 2),
            burst_apiserver_requests_per_object=round(burst_req / count, 1),
            burst_operator_cpu_s=round(burst_cpu, 1),
        )
    finally:
        if operator is not None and operator.poll() is None:
            operator.terminate()
            operator.wait(timeout=30)
        stop_plane(plane)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="100,1000")
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=120)
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=90,
        help="wait after every ModelDeployment is settled: at 1,000 the last ModelVersion reconciles "
        "go on for about a minute",
    )
    parser.add_argument("--baseline-ref", default="2867da6", help="git ref of the operator to compare with")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--logs", type=Path, help="keep the operators' logs in this directory")
    parser.add_argument("--only", choices=["baseline", "current"], help="run one implementation only")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    results: list[Result] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-planes-") as work,
        _baseline_tree(args.baseline_ref) as old,
    ):
        for count in counts:
            for name, tree in (("baseline", old), ("current", REPO)):
                if args.only and name != args.only:
                    continue
                logs = args.logs or Path(work)
                logs.mkdir(parents=True, exist_ok=True)
                result = run_one(
                    name,
                    tree,
                    count,
                    namespaces=args.namespaces,
                    idle_s=args.idle_seconds,
                    settle_s=args.settle_seconds,
                    work=Path(work),
                    logs=logs,
                )
                print(json.dumps(asdict(result)), flush=True)
                results.append(result)
    _print_ratios(results)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


def _print_ratios(results: list[Result]) -> None:
    by = {(r.implementation, r.objects): r for r in results}
    for count in sorted({r.objects for r in results}):
        if ("baseline", count) not in by or ("current", count) not in by:
            continue
        old, new = by[("baseline", count)], by[("current", count)]
        for field in (
            "apply_to_deployment_p99_s",
            "all_status_s",
            "all_available_s",
            "idle_operator_cpu_pct",
            "idle_apiserver_rps",
            "operator_rss_mb",
            "failed_rollout_detect_s",
            "burst_apiserver_requests_per_object",
            "burst_operator_cpu_s",
        ):
            before, after = getattr(old, field), getattr(new, field)
            ratio = after / before if before else float("nan")
            print(
                f"{count:>5} objects  {field:<28} baseline {before:>9} current {after:>9}  ratio {ratio:.3f}"
            )


if __name__ == "__main__":
    sys.exit(main())
