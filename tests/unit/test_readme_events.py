"""The log event names the README tells operators to look for are ones the code really logs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pydantic import BaseModel

from daemon.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical"})
SNAKE = re.compile(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`")


def section(text: str, heading: str) -> str:
    """The body of a `## heading` section."""
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def readme_event_names() -> set[str]:
    """snake_case names in backticks in the Logs bullet and the Troubleshooting section, minus
    setting names (those are settings, not events)."""
    text = README.read_text(encoding="utf-8")
    logs = re.search(r"^- \*\*Logs\*\*.*?(?=^- \*\*|\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert logs is not None, "the README has a Logs bullet"
    found = set(SNAKE.findall(logs.group(0))) | set(SNAKE.findall(section(text, "Troubleshooting")))
    return found - setting_names()


def setting_names() -> set[str]:
    """Every key of every config section."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        model = field.annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        names |= set(model.model_fields)
    return names


def logged_event_names() -> set[str]:
    """First arguments of structlog calls anywhere in daemon/: `log.info("name", ...)`, or
    through a name bound to such a method (`emit = log.info if ok else log.warning`)."""
    names: set[str] = set()
    for path in (ROOT / "daemon").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {
            target.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and any(is_log_method(n) for n in ast.walk(node.value))
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            if is_log_method(func) or (isinstance(func, ast.Name) and func.id in aliases):
                # A conditional name (`"a" if x else "b"`) logs either.
                for part in ast.walk(node.args[0]):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        names.add(part.value)
    return names


def is_log_method(node: ast.AST) -> bool:
    """`log.info` and the like: a level method of the module's structlog logger `log`."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr in LOG_METHODS
        and isinstance(node.value, ast.Name)
        and node.value.id == "log"
    )


def test_the_readme_names_events_at_all() -> None:
    """The check below cannot pass vacuously: the README does name events."""
    assert {"dataset_synced", "api_key_rejected"} <= readme_event_names()


def test_every_event_the_readme_names_is_logged() -> None:
    """Each event name in the README's log and troubleshooting text is emitted by the code."""
    missing = readme_event_names() - logged_event_names()
    assert not missing, f"the README names events the code never logs: {sorted(missing)}"
