"""Keeps README.md honest: everything it names (commands, options, targets, CRD fields, printer columns,
condition reasons, Helm values, settings variables, repository paths) must exist in the code.

The README is the user's reference and nothing else checks it, so a rename in the CLI, the CRDs, the
chart or the settings must fail here until the README says the same. Runs in the unit tier (`make test`).
"""

from __future__ import annotations

import dataclasses
import glob
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import click
import pytest
import yaml

from support.readme_checks import (
    ROOT,
    backticked,
    check_invocations,
    code_lines,
    fenced_blocks,
    option_names,
    readme,
    section,
    table_rows,
    tokens_after,
)

CRD_FILES = {"ModelVersion": "crds/modelversions.yaml", "ModelDeployment": "crds/modeldeployments.yaml"}
REPO_PATH = re.compile(r"^(bench|charts|crds|examples|hack|modelops|operator|server|tests)/[^\s<>]*$")
CAMEL_WORD = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*$")


# --- the click apps ------------------------------------------------------------------------------------


def modelctl_group() -> click.Group:
    from modelops.cli.main import cli

    return cli


def server_group() -> click.Group:
    from modelops_server.cli import main

    assert isinstance(main, click.Group)
    return main


def test_every_modelctl_command_and_option_in_the_readme_exists() -> None:
    assert check_invocations("modelctl", modelctl_group(), code_lines(readme())) >= 10


def test_every_modelctl_call_of_make_demo_exists() -> None:
    # `make demo` is the README's first command; a wrong option there fails only minutes into the demo.
    script = (ROOT / "hack" / "demo").read_text(encoding="utf-8").replace("\\\n", " ")
    assert check_invocations("modelctl", modelctl_group(), script.splitlines(), "hack/demo") >= 5


def test_every_modelops_server_command_and_option_in_the_readme_exists() -> None:
    assert check_invocations("modelops-server", server_group(), code_lines(readme())) >= 2


def test_the_cli_reference_tables_name_real_options() -> None:
    group = modelctl_group()
    rows = table_rows(section("CLI"))
    for cells in rows:
        first = backticked(cells[0])
        if first and first[0].startswith("modelctl "):
            words = first[0].split()
            command = group.commands[words[1]]
            if isinstance(command, click.Group):  # `modelctl rollout promote`
                command = command.commands[words[2]]
            options = set(re.findall(r"--[a-z][a-z-]*|-[a-z]\b", cells[1]))
            assert options <= option_names(command), f"{first[0]}: unknown {options - option_names(command)}"
        elif first and first[0].startswith("-"):
            options = set(re.findall(r"--[a-z][a-z-]*|-[a-z]\b", cells[0]))
            assert options <= option_names(group), f"unknown global options {options - option_names(group)}"


def test_the_readme_documents_every_modelctl_command() -> None:
    documented = {
        words[0] for line in code_lines(readme()) for words in tokens_after(line, "modelctl") if words
    }
    missing = set(modelctl_group().commands) - documented
    assert not missing, f"modelctl commands missing from README.md: {sorted(missing)}"


# --- make and localkube --------------------------------------------------------------------------------


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.M))


def test_every_make_target_in_the_readme_exists() -> None:
    named = {words[0] for line in code_lines(readme()) for words in tokens_after(line, "make") if words}
    assert {"demo", "test"} <= named
    unknown = named - make_targets()
    assert not unknown, f"README names make targets that the Makefile lacks: {sorted(unknown)}"


def localkube_verbs() -> dict[str, Any]:
    import argparse

    from localkube_py.cli import _parser

    for action in _parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("hack/localkube has no subcommands")


def test_every_localkube_verb_in_the_readme_exists() -> None:
    from localkube_py.images import DOCKERFILES

    verbs = localkube_verbs()
    calls = [words for line in code_lines(readme()) for words in tokens_after(line, "localkube") if words]
    assert calls, "README.md shows no hack/localkube command"
    for words in calls:
        assert words[0] in verbs, f"README names `hack/localkube {words[0]}`, which does not exist"
        if words[0] == "load-image":
            assert words[1] in DOCKERFILES, f"hack/localkube load-image has no image {words[1]!r}"


def test_the_quick_start_is_the_two_commands() -> None:
    quick = section("Quick start")
    commands = [line.split("#")[0].strip() for line in fenced_blocks(quick)[0].splitlines()]
    assert commands == ["make demo", "make test"]


# --- CRDs ----------------------------------------------------------------------------------------------


@cache
def crd(kind: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / CRD_FILES[kind]).read_text(encoding="utf-8"))
    return dict(document["spec"]["versions"][0])


def schema_paths(schema: dict[str, Any], prefix: str) -> Iterator[str]:
    """Every property path below `schema`; list items are written `name[]`."""
    for name, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{name}"
        yield path
        if sub.get("type") == "array" and "items" in sub:
            yield from schema_paths(sub["items"], f"{path}[]")
        else:
            yield from schema_paths(sub, path)


def crd_fields(kind: str) -> set[str]:
    properties = crd(kind)["schema"]["openAPIV3Schema"]["properties"]
    return {path for top in ("spec", "status") for path in schema_paths(properties[top], top)}


def documented_fields(kind: str) -> set[str]:
    text = section(kind, level=3, text=section("CRD reference"))
    cells = [backticked(row[0]) for row in table_rows(text)]
    return {found[0] for found in cells if found and re.match(r"^(spec|status)\.", found[0])}


@pytest.mark.parametrize("kind", sorted(CRD_FILES))
def test_every_documented_crd_field_exists(kind: str) -> None:
    documented = documented_fields(kind)
    assert len(documented) > 10, f"the {kind} table lists too few fields"
    unknown = documented - crd_fields(kind)
    assert not unknown, f"README documents {kind} fields that {CRD_FILES[kind]} lacks: {sorted(unknown)}"


@pytest.mark.parametrize("kind", sorted(CRD_FILES))
def test_every_crd_field_is_documented(kind: str) -> None:
    # The items of status.conditions have the standard Kubernetes condition shape; documented once.
    fields = {f for f in crd_fields(kind) if not f.startswith("status.conditions[].")}
    missing = fields - documented_fields(kind)
    assert not missing, f"{CRD_FILES[kind]} fields missing from the README's {kind} table: {sorted(missing)}"


@pytest.mark.parametrize("kind", sorted(CRD_FILES))
def test_printer_columns_match_the_crd(kind: str) -> None:
    text = section(kind, level=3, text=section("CRD reference"))
    found = re.search(r"Printer columns:(.*?)(?:\n\n|\Z)", text, flags=re.S)
    assert found, f"README's {kind} section does not list its printer columns"
    documented = dict(re.findall(r"`(\w+)`(?: \(`(\.[^`]+)`\))?", found.group(1)))
    columns = {c["name"]: c["jsonPath"] for c in crd(kind)["additionalPrinterColumns"]}
    assert set(documented) == set(columns), f"{kind} printer columns: README {documented}, CRD {columns}"
    for name, path in documented.items():
        assert not path or path == columns[name], f"{kind} column {name} reads {columns[name]}, not {path}"


def condition_words(prefix: str) -> set[str]:
    from modelops_operator import conditions

    return {
        value
        for name, value in vars(conditions).items()
        if isinstance(value, str) and name.startswith(prefix) and name.isupper()
    }


def test_condition_table_uses_the_operators_types_and_reasons() -> None:
    text = section("Conditions", level=3, text=section("CRD reference"))
    types = {"Available", "Progressing", "Degraded", "Ready"} & condition_words("")
    rows = [row for row in table_rows(text) if backticked(row[0])]
    assert len(rows) >= 10
    for row in rows:
        kind, reason = backticked(row[0])[0], backticked(row[2])[0]
        assert kind in types, f"README lists condition type {kind!r}, which the operator does not set"
        assert reason in condition_words("REASON_"), f"{kind} reason {reason!r} is not in conditions.py"


@pytest.mark.parametrize(
    ("lead", "prefix"), [("Events on the ModelDeployment", "EVENT_"), ("Failure causes", "CAUSE_")]
)
def test_events_and_failure_causes_are_the_operators(lead: str, prefix: str) -> None:
    text = section("Conditions", level=3, text=section("CRD reference"))
    found = re.search(rf"^{lead}(.*?)(?:\n\n|\Z)", text, flags=re.S | re.M)
    assert found, f"README has no paragraph starting {lead!r}"
    named = {word for word in backticked(found.group(1)) if CAMEL_WORD.match(word)}
    assert named, f"the {lead!r} paragraph names nothing"
    unknown = named - condition_words(prefix)
    assert not unknown, f"README names {prefix}* values that conditions.py lacks: {sorted(unknown)}"


# --- Helm, settings, paths -----------------------------------------------------------------------------


def value_paths(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, bool]]:
    """(dotted path, is_leaf) of every key in values.yaml."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        nested = isinstance(value, dict) and bool(value)
        yield path, not nested
        if nested:
            yield from value_paths(value, f"{path}.")


def documented_values() -> set[str]:
    rows = table_rows(section("Helm"))
    return {key for row in rows for key in backticked(row[0]) if re.match(r"^[a-zA-Z][\w.]*$", key)}


def test_helm_values_table_matches_values_yaml() -> None:
    values = yaml.safe_load((ROOT / "charts/modelops/values.yaml").read_text(encoding="utf-8"))
    paths = dict(value_paths(values))
    documented = documented_values()
    unknown = documented - set(paths)
    assert not unknown, f"README documents Helm values that values.yaml lacks: {sorted(unknown)}"
    missing = [path for path, leaf in paths.items() if leaf and not _self_and_parents(path) & documented]
    assert not missing, f"values.yaml keys missing from the README's Helm table: {missing}"


def test_helm_values_table_gives_the_real_defaults() -> None:
    values = yaml.safe_load((ROOT / "charts/modelops/values.yaml").read_text(encoding="utf-8"))
    checked = 0
    for row in table_rows(section("Helm")):
        keys, defaults = backticked(row[0]), backticked(row[1])
        if not defaults or not all(re.match(r"^[a-zA-Z][\w.]*$", key) for key in keys):
            continue  # a prose default (e.g. "non-root 10001") is not checked
        pairs = zip(keys, defaults * len(keys) if len(defaults) == 1 else defaults, strict=True)
        for key, documented in pairs:
            value = _lookup(values, key)
            assert documented == _spelled_value(value), (
                f"Helm {key}: README says {documented}, values.yaml {value!r}"
            )
            checked += 1
    assert checked >= 20


def _lookup(values: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        values = values[part]
    return values


def _spelled_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value == "":
        return '""'
    return str(value)


def _self_and_parents(path: str) -> set[str]:
    """`a.b.c` -> {a, a.b, a.b.c}: a value is documented by its own row or by a parent's row."""
    parts = path.split(".")
    return {".".join(parts[: i + 1]) for i in range(len(parts))}


def server_variables() -> set[str]:
    serve = server_group().commands["serve"]
    names: set[str] = set()
    for param in serve.params:
        envvar = param.envvar
        names.update([envvar] if isinstance(envvar, str) else list(envvar or []))
    return names


def operator_variables() -> set[str]:
    from modelops_operator.settings import ENV_PREFIX, Settings

    return {f"{ENV_PREFIX}{field.name.upper()}" for field in dataclasses.fields(Settings)}


@pytest.mark.parametrize(
    ("prefix", "known"),
    [("MODELOPS_SERVER_", server_variables), ("MODELOPS_OPERATOR_", operator_variables)],
)
def test_every_settings_variable_in_the_readme_exists(prefix: str, known: Any) -> None:
    named = set(re.findall(rf"\b{prefix}[A-Z0-9_]*[A-Z0-9]\b", readme()))
    assert named, f"README names no {prefix}* variable"
    unknown = named - known()
    assert not unknown, f"README names {prefix}* variables that are no settings: {sorted(unknown)}"


def server_flag_rows() -> list[tuple[list[click.Parameter], list[str], list[str]]]:
    """(parameters, variables, defaults) of each row of the README's server settings table."""
    serve = server_group().commands["serve"]
    by_flag = {opt: param for param in serve.params for opt in getattr(param, "opts", [])}
    rows = [row for row in table_rows(section("Server API")) if backticked(row[0])]
    return [
        (
            [by_flag[flag] for flag in backticked(row[0])],
            backticked(row[1]),
            [d.strip().strip("`") for d in row[2].split(" (")[0].split(",")],
        )
        for row in rows
        if backticked(row[0])[0].startswith("--")
    ]


def test_operator_defaults_named_in_the_readme_are_the_real_ones() -> None:
    from modelops_operator.settings import ENV_PREFIX, Settings

    defaults = {f"{ENV_PREFIX}{f.name.upper()}": f.default for f in dataclasses.fields(Settings)}
    named = re.findall(rf"`({ENV_PREFIX}[A-Z_]+)` \(([0-9.]+)\)", readme())
    assert len(named) >= 3
    for variable, documented in named:
        assert float(documented) == float(defaults[variable]), f"{variable} defaults to {defaults[variable]}"


def test_the_server_settings_table_pairs_flags_with_their_variables() -> None:
    rows = server_flag_rows()
    assert len(rows) >= 10
    for params, variables, _ in rows:
        envvars = {v for param in params for v in _envvars(param)}
        assert set(variables) <= envvars, f"{params}: README says {variables}, code reads {sorted(envvars)}"


def test_the_server_settings_table_gives_the_real_defaults() -> None:
    for params, _, defaults in server_flag_rows():
        assert len(defaults) == len(params), f"one default per flag in the row of {params}"
        for param, documented in zip(params, defaults, strict=True):
            assert documented == _spelled_default(param), f"{param.name}: README says {documented!r}"


def _spelled_default(param: click.Parameter) -> str:
    if param.required:
        return "required"
    if param.default is None:
        return "none"
    if isinstance(param.default, bool):
        return str(param.default).lower()
    return str(param.default)


def _envvars(param: click.Parameter) -> list[str]:
    envvar = param.envvar
    return [envvar] if isinstance(envvar, str) else list(envvar or [])


def test_every_repository_path_in_the_readme_exists() -> None:
    words = {w.strip("'\"(),:;") for line in code_lines(readme()) for w in line.split()}
    paths = sorted(w for w in words if REPO_PATH.match(w))
    assert len(paths) > 10
    missing = [p for p in paths if not glob.glob(str(ROOT / p))]
    assert not missing, f"README names repository paths that do not exist: {missing}"
