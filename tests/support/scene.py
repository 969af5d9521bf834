"""One ModelDeployment under test on localkube, and what to show when a wait for it fails.

The e2e rollout tests (`tests/e2e/test_analysis.py`, `tests/e2e/test_canary.py`) drive the same object,
`safety-classifier-production`, through versions and wait for its status; a failed wait prints its status,
pods, Events and the operator's log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from support.cluster import Kubectl, Poller
from support.e2e import OperatorProcess


@dataclass
class ModelDeploymentScene:
    """The test's namespace: the ModelDeployment, and what to show when a wait fails."""

    name: ClassVar[str] = "safety-classifier-production"
    kubectl: Kubectl
    namespace: str
    operator: OperatorProcess

    def md(self) -> dict[str, Any]:
        return self.kubectl.existing("modeldeployment", self.name, self.namespace)

    def set_version(self, version: str) -> None:
        patch = json.dumps({"spec": {"version": version}})
        self.kubectl.run(
            "patch", "modeldeployment", self.name, "-n", self.namespace, "--type=merge", "-p", patch
        )

    def wait(self, what: str, timeout: float, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            md = self.md()
            return md if check(md) else None

        try:
            return Poller(timeout, interval=0.2, what=what).until(reached)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.describe()}") from None

    def describe(self) -> str:
        status = json.dumps(self.md().get("status", {}), indent=1)[-4000:]
        pods = self.kubectl.run("get", "pods", "-o", "wide", "-n", self.namespace)
        events = self.kubectl.run("get", "events", "--sort-by=.lastTimestamp", "-n", self.namespace)[-3000:]
        operator = self.operator.log_tail()
        return f"status: {status}\n{pods}\n--- events ---\n{events}\n--- operator ---\n{operator}"
