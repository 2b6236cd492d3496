"""The vendored outside examples under `tests/contract/examples/`, and where they came from.

`examples/README.md` names the source of every file. The GA examples are also still in the
installed `meraki-client`; `ga_example_in_package` reads them from there, so a test can show
the vendored copy has not drifted from the package the suite pins.
"""

from __future__ import annotations

import inspect
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from meraki_client._api.organizations import Organizations

EXAMPLES_DIR = Path(__file__).parent / "examples"
SPEC_EXAMPLES = EXAMPLES_DIR / "spec-v1.44.0.json"
"""Response examples of the official OpenAPI spec v1.44.0, keyed by path template."""
BETA_EXAMPLES = EXAMPLES_DIR / "beta-changelog.json"
"""Beta (not GA) response examples of the SASE operations, keyed by path template."""
GA_EXAMPLES = EXAMPLES_DIR / "ga-v1.75.1.json"
"""Response examples of meraki-client 0.22 (generated from spec v1.75.1), keyed by
operationId."""

_JSON_BLOCK = re.compile(r"Example API response:\s*```json\n(.*?)```", re.DOTALL)


@cache
def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def spec_example(path: str) -> Any:
    """The v1.44.0 spec's example response body of GET `path` (a path template)."""
    return _load(SPEC_EXAMPLES)[path]


def ga_example(operation_id: str) -> Any:
    """The v1.75.1 GA example response body of `operation_id`, from the vendored copy."""
    return _load(GA_EXAMPLES)[operation_id]


def ga_operation_ids() -> list[str]:
    """Every operationId that has a vendored GA example."""
    return sorted(_load(GA_EXAMPLES))


def method_name(operation_id: str) -> str:
    """meraki-client's method name of an operation: getOrganizationSaseSites ->
    get_organization_sase_sites."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def ga_example_in_package(operation_id: str) -> Any:
    """The GA example response body of `operation_id`, parsed out of the installed package's
    docstring of that operation."""
    doc = inspect.getdoc(getattr(Organizations, method_name(operation_id))) or ""
    match = _JSON_BLOCK.search(doc)
    if match is None:
        raise LookupError(f"{operation_id}: no JSON example in meraki-client's docstring")
    return json.loads(match.group(1))
