"""Reading README.md the way the README tests need it: sections, tables, code, and the CLI calls in it.

`tests/unit/test_readme.py` uses these to check that what the README names exists in the code. Kept
apart so the test module holds the checks and this one the Markdown and click plumbing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SEPARATORS = {"|", "||", "&&", ";"}
SHELL_LANGUAGES = ("", "bash", "sh", "shell", "console")


@cache
def readme() -> str:
    return README.read_text(encoding="utf-8")


def section(title: str, level: int = 2, text: str | None = None) -> str:
    """The body of the heading `title` (matched by prefix) up to the next heading of the same level."""
    marks = "#" * level
    pattern = rf"^{marks} {re.escape(title)}[^\n]*\n(.*?)(?=^{marks} |\Z)"
    found = re.search(pattern, readme() if text is None else text, flags=re.S | re.M)
    assert found, f"README.md has no '{marks} {title}' section"
    return found.group(1)


def fenced_blocks(text: str, languages: tuple[str, ...] = SHELL_LANGUAGES) -> list[str]:
    """Bodies of the fenced code blocks written in one of `languages` (shell by default)."""
    blocks = re.findall(r"^\s*```([^\n]*)\n(.*?)^\s*```", text, flags=re.S | re.M)
    return [body for language, body in blocks if language.strip() in languages]


def inline_code(text: str) -> list[str]:
    outside = re.sub(r"^\s*```[^\n]*\n.*?^\s*```", "", text, flags=re.S | re.M)
    return re.findall(r"`([^`\n]+)`", outside)


def code_lines(text: str) -> list[str]:
    """Every logical code line: fenced lines (backslash continuations joined) and inline code spans."""
    lines = []
    for block in fenced_blocks(text):
        lines += block.replace("\\\n", " ").splitlines()
    return lines + inline_code(text)


def table_rows(text: str) -> list[list[str]]:
    """Cells of every Markdown table row (header and separator rows included; `\\|` is not a split)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
            rows.append([cell.strip() for cell in cells])
    return rows


def backticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def tokens_after(line: str, program: str) -> Iterator[list[str]]:
    """For each call of `program` on a line, the words that follow it up to a shell separator or comment."""
    words = [w.strip("'\"(),;") for w in line.split()]
    for index, word in enumerate(words):
        if word.rsplit("/", 1)[-1] != program:
            continue
        tail = []
        for following in words[index + 1 :]:
            if following in SEPARATORS or following.startswith("#"):
                break
            tail.append(following)
        yield tail


def option_names(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts + param.secondary_opts)
    return names


def takes_value(command: click.Command, option: str) -> bool:
    for param in command.params:
        if isinstance(param, click.Option) and option in param.opts:
            return not param.is_flag
    return False


def split_invocation(group: click.Group, words: list[str]) -> tuple[str | None, list[str]]:
    """Skip the group's own options; return the subcommand word and the options given after it."""
    index = 0
    while index < len(words) and words[index].startswith("-"):
        option = words[index].split("=", 1)[0]
        assert option in option_names(group), f"README uses unknown global option {option} of {group.name}"
        index += 2 if takes_value(group, option) and "=" not in words[index] else 1
    if index >= len(words):
        return None, []
    options = [w.split("=", 1)[0] for w in words[index + 1 :] if w.startswith("-") and len(w) > 1]
    return words[index], options


def _nested(
    group: click.Group, words: list[str], where: str, program: str
) -> tuple[click.Command, list[str]]:
    """The subcommand of a nested group named by `words`, and the options given after it."""
    name, options = split_invocation(group, words)
    assert name in group.commands, f"{where} names `{program} {group.name} {name}`, which does not exist"
    return group.commands[name], options


def check_invocations(program: str, group: click.Group, lines: list[str], where: str = "README") -> int:
    """Every `<program> <subcommand> --option` in `lines` exists; return how many calls were seen.

    A subcommand written as a shell expansion (`"$@"` in a wrapper function) is not a call.
    """
    seen = 0
    for line in lines:
        for words in tokens_after(line, program):
            subcommand, options = split_invocation(group, words)
            if subcommand is None or subcommand.startswith(("$", "{")):
                continue
            seen += 1
            assert subcommand in group.commands, (
                f"{where} names `{program} {subcommand}`, which does not exist"
            )
            command = group.commands[subcommand]
            if isinstance(command, click.Group):  # `modelctl rollout status ...`: the nested command's
                command, options = _nested(command, words[words.index(subcommand) + 1 :], where, program)
            unknown = set(options) - option_names(command)
            assert not unknown, f"{where} gives `{program} {subcommand}` unknown options {sorted(unknown)}"
    return seen
