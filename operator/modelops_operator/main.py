"""Entry point of `modelops-operator`: validate settings, then run kopf with the modelops handlers.

Settings come from MODELOPS_OPERATOR_* (read once here); `--namespace` (repeatable) narrows the watch,
`--kubeconfig` picks a cluster outside a pod. The process serves its own metrics on metrics_port and
kopf's liveness endpoint on `--liveness`.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence

from modelops_operator.settings import Settings, SettingsError, from_env


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="modelops-operator", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="watch this namespace (repeatable); default: MODELOPS_OPERATOR_NAMESPACES or every namespace",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (outside a cluster)")
    parser.add_argument(
        "--liveness", default=None, help="serve kopf's liveness probe, e.g. http://0.0.0.0:8081/healthz"
    )
    return parser.parse_args(argv)


def load_settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with --namespace taking precedence."""
    settings = from_env(os.environ)
    if args.namespace:
        settings = dataclasses.replace(settings, namespaces=tuple(args.namespace))
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the operator until it is stopped; 2 on invalid settings."""
    args = _parse_args(argv)
    try:
        settings = load_settings(args)
    except SettingsError as error:
        print(f"modelops-operator: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level.upper() != "DEBUG":
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # not one line per timer tick
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig  # start-up only: kopf's login reads it
    _run(settings, args)
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> None:
    import kopf

    from modelops_operator import handlers, watchcheck
    from modelops_operator.kube import Kube, load_client
    from modelops_operator.metrics import OperatorMetrics

    metrics = OperatorMetrics()
    metrics.serve(settings.metrics_port)
    runtime = handlers.Runtime(settings, Kube(load_client(args.kubeconfig)), metrics)
    # kopf resolves its resources from discovery once; right after an apiserver (re)start it may lack them.
    watchcheck.await_discovery(lambda path: runtime.kube.request("GET", path), (handlers.MD, handlers.MV))
    registry = kopf.OperatorRegistry()
    handlers.register(registry, runtime)
    stop_resync = handlers.start(runtime)
    try:
        kopf.run(
            registry=registry,
            settings=handlers.kopf_settings(settings),
            standalone=True,
            clusterwide=settings.clusterwide,
            namespaces=settings.namespaces,
            liveness_endpoint=args.liveness,
        )
    finally:
        stop_resync.set()


if __name__ == "__main__":
    sys.exit(main())
