"""Shared state and plumbing of `modelctl` commands: global options, the registry they talk to, the
`--output` option, progress reporting and the error policy (one-line reason, non-zero exit).

Imported by every command module; `main.py` builds the group from `ModelctlGroup`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from modelops.registry import ModelRegistry
from modelops.registry.backend import RegistryBackend

F = TypeVar("F", bound=Callable[..., Any])
# Failures with a clear message of their own: shown as one line, exit code 1.
EXPECTED_ERRORS: tuple[type[Exception], ...] = (ValueError, LookupError, OSError, RuntimeError)


def _expected_errors() -> tuple[type[Exception], ...]:
    from modelops.package.errors import PackageError
    from modelops.registry.errors import RegistryError

    return (RegistryError, PackageError, *EXPECTED_ERRORS)


class ModelctlGroup(click.Group):
    """A click group whose commands fail with `Error: <one line>` and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except _expected_errors() as error:
            message = " ".join(str(error).split()) or type(error).__name__
            raise click.ClickException(message) from error


@dataclass
class CliContext:
    """Global options; the registry is built on first use."""

    models_dir: Path
    registry_kind: str
    namespace: str | None
    kubeconfig: Path | None
    output: str
    _registry: ModelRegistry | None = field(default=None, repr=False)

    def backend(self) -> RegistryBackend:
        """The backend chosen by --registry (auto: Kubernetes when a cluster is configured)."""
        from modelops.registry import factory

        if self.registry_kind == "file":
            return factory.file_backend(self.models_dir)
        if self.registry_kind == "kubernetes" or self.kubeconfig is not None:
            from modelops.registry.kubernetes import KubernetesBackend

            return KubernetesBackend.from_config(
                self.kubeconfig or factory.kubeconfig_path(), self.namespace, self.models_dir
            )
        return factory.default_backend(self.models_dir, self.namespace)

    @property
    def registry(self) -> ModelRegistry:
        """The ModelRegistry the commands use."""
        if self._registry is None:
            self._registry = ModelRegistry(self.backend(), models_dir=self.models_dir)
        return self._registry

    @property
    def uses_kubernetes(self) -> bool:
        """True when the registry is the Kubernetes backend."""
        from modelops.registry.kubernetes import KubernetesBackend

        return isinstance(self.registry.backend, KubernetesBackend)


pass_context = click.make_pass_decorator(CliContext)


def output_option(command: F) -> F:
    """`-o/--output` on a subcommand; without it the group's --output applies."""
    return click.option(
        "-o",
        "--output",
        "output",
        type=click.Choice(["table", "json", "yaml"]),
        default=None,
        help="Result format (default: the global --output).",
    )(command)


def chosen_output(ctx: CliContext, output: str | None) -> str:
    """The subcommand's --output, else the global one."""
    return output or ctx.output


@contextmanager
def progress(description: str) -> Iterator[Callable[[str], None]]:
    """A spinner with elapsed time on stderr; the yielded callback names the current step."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)
        yield lambda step: bar.update(task, description=f"{description}: {step}")
