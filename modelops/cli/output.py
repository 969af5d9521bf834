"""Rendering command results as a rich table, JSON or YAML (`--output table|json|yaml`).

Every `modelctl` command builds plain rows (lists of dicts) or one dict and hands them here, so the
three formats always carry the same data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "yaml")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or "-"
    return str(value)


def render(data: Any, output: str, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """Print rows (list of dicts), one dict, or a scalar in the chosen format on stdout."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    elif output == "yaml":
        click.echo(yaml.safe_dump(data, sort_keys=True, default_flow_style=False).rstrip())
    elif isinstance(data, list):
        _table(data, columns or (list(data[0]) if data else []), title)
    elif isinstance(data, dict):
        _table([{"field": k, "value": v} for k, v in data.items()], ["field", "value"], title)
    else:
        click.echo(_cell(data))


def _table(rows: list[dict[str, Any]], columns: Sequence[str], title: str | None) -> None:
    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    Console(width=160).print(table)
