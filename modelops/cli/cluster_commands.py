"""`modelctl status | health`: what runs where, and whether it answers.

`status` lists every deployment (desired, serving, stable, health word from the ModelDeployment's
conditions). `health` calls the seed health endpoint, through the Kubernetes API server's service
proxy (no port-forward needed) or a given `--url`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import click

from modelops.cli.context import CliContext, chosen_output, output_option, pass_context
from modelops.cli.output import render
from modelops.cli.registry_commands import deployment_row
from modelops.names import deployment_name

HEALTH_TIMEOUT_S = 10.0


def health_path(model_type: str) -> str:
    """The seed's health endpoint path."""
    return f"api/v1/ml-models/{model_type}/health"


def fetch_url(url: str) -> tuple[int, dict[str, Any]]:
    """GET a health URL; 503 bodies are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as response:
            return int(response.status), dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return int(error.code), dict(json.loads(error.read() or b"{}"))


def api_answer(model_type: str, code: int, body: bytes | str | None) -> tuple[int, dict[str, Any]]:
    """The health answer from a proxied response. An API server `Status` (no Service, no ready
    endpoints) is not the model's answer: it becomes `status: unreachable` with the server's message."""
    try:
        answer: Any = json.loads(body or "{}")
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("kind") != "Status":
        return code, answer
    message = answer.get("message") if isinstance(answer, dict) else None
    reason = message or f"API server answered {code}"
    return code, {"model_type": model_type, "status": "unreachable", "reason": reason}


def fetch_through_service(ctx: CliContext, model_type: str, environment: str) -> tuple[int, dict[str, Any]]:
    """GET the health endpoint through the API server's proxy to the model's Service (port `http`)."""
    import urllib3
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from modelops.registry.kubernetes import KubernetesBackend

    backend = ctx.registry.backend
    assert isinstance(backend, KubernetesBackend)
    core = client.CoreV1Api(backend.api.api_client)
    name = f"{deployment_name(model_type, environment)}:http"
    try:
        body: Any = core.connect_get_namespaced_service_proxy_with_path(
            name,
            backend.namespace,
            health_path(model_type),
            _preload_content=False,
            _request_timeout=HEALTH_TIMEOUT_S,
        )
        return api_answer(model_type, int(body.status), body.data)
    except ApiException as error:
        return api_answer(model_type, int(error.status), error.body)
    except urllib3.exceptions.HTTPError as error:
        host = backend.api.api_client.configuration.host
        raise click.ClickException(f"cannot reach the Kubernetes API server at {host}: {error}") from error


@click.command()
@click.argument("model_type", required=False)
@output_option
@pass_context
def status(ctx: CliContext, *, model_type: str | None, output: str | None) -> None:
    """Table of model types x environments: desired, serving, stable version and health."""
    rows = [deployment_row(record) for record in ctx.registry.list_deployments(model_type)]
    render(rows, chosen_output(ctx, output), title="deployments")


@click.command()
@click.argument("model_type")
@click.option("--env", "environment", default="production", show_default=True)
@click.option("--url", default=None, help="Server base URL (default: through the cluster's Service).")
@output_option
@pass_context
def health(
    ctx: CliContext, *, model_type: str, environment: str, url: str | None, output: str | None
) -> None:
    """Call the seed health endpoint of a deployed model; exit 1 unless it is healthy."""
    if url is not None:
        code, answer = fetch_url(f"{url.rstrip('/')}/{health_path(model_type)}")
    elif ctx.uses_kubernetes:
        code, answer = fetch_through_service(ctx, model_type, environment)
    else:
        raise click.UsageError("no cluster registry configured: give --url of the inference server")
    render(answer, chosen_output(ctx, output), title=f"{model_type} health ({code})")
    if code != 200 or answer.get("status") != "healthy":
        raise click.ClickException(
            f"{model_type} in {environment} is not healthy: {answer.get('reason', code)}"
        )
