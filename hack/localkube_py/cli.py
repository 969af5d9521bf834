"""Command-line dispatch for `hack/localkube up|down|status|env|build|load-image NAME|image NAME`."""

from __future__ import annotations

import argparse
import subprocess
import sys

from localkube_py import cluster, images, packages, teardown
from localkube_py.base_image import ensure_base_image
from localkube_py.health import StartError
from localkube_py.progress import say
from localkube_py.settings import Layout
from localkube_py.shell import CommandError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hack/localkube", description="A real single-node Kubernetes.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the cluster (idempotent) and wait for the node to be Ready")
    commands.add_parser("down", help="stop everything `up` started and clean up the host")
    commands.add_parser("status", help="show which components run")
    commands.add_parser("env", help='print shell exports: eval "$(hack/localkube env)"')
    commands.add_parser("build", help="build or fetch every binary and the base image (cached)")
    load = commands.add_parser("load-image", help="build an image and import it into the cluster")
    load.add_argument("name", choices=sorted(images.DOCKERFILES))
    image = commands.add_parser("image", help="build an image into podman's storage; print its keyed tag")
    image.add_argument("name", choices=sorted(images.DOCKERFILES))
    return parser


def _build(layout: Layout) -> None:
    packages.ensure_packages()
    cluster.build_binaries()
    ensure_base_image(layout)
    say("build complete")


def _dispatch(command: str, layout: Layout, args: argparse.Namespace) -> int:
    if command == "up":
        cluster.up(layout)
    elif command == "down":
        teardown.down(layout)
    elif command == "status":
        return 0 if cluster.status(layout) else 3
    elif command == "env":
        print("\n".join(cluster.env_lines(layout)))
    elif command == "build":
        _build(layout)
    elif command == "load-image":
        with cluster.state_lock(layout):
            print(images.load_image(layout, args.name))
    elif command == "image":
        packages.ensure_packages()
        with cluster.state_lock(layout):
            print(images.podman_image(layout, args.name))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    layout = Layout.from_environment()
    try:
        return _dispatch(args.command, layout, args)
    except (StartError, CommandError, subprocess.CalledProcessError) as error:
        print(f"localkube {args.command} failed: {error}", file=sys.stderr)
        return 1
