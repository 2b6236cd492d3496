"""The Grafana pack: the committed dashboards are what grafana/build.py generates, each one is a
dashboard of the current schema by grafana-foundation-sdk's models, their data sources are the
provisioned ones, and the validator does catch what is wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from grafana import build, validate
from grafana.panels import POSTGRES_UID, PROMETHEUS_UID
from grafana.queries import parse, queries
from grafana.sql_query import POSTGRES_TYPE

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "grafana" / "provisioning"
VARIABLES = {"${postgres}": POSTGRES_TYPE, "${prometheus}": "prometheus"}


def committed() -> dict[str, dict[str, Any]]:
    """The dashboards in grafana/dashboards, by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(build.OUT.glob("*.json"))
    }


def test_the_committed_json_is_what_the_generator_builds() -> None:
    """grafana/dashboards holds exactly the generator's output, byte for byte: run
    `python -m grafana.build` after changing a dashboard module or its SQL."""
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in build.OUT.glob("*.json")}
    assert on_disk == build.rendered()
    assert len(on_disk) == 7


def test_the_check_mode_fails_on_stale_or_missing_json(tmp_path: Path) -> None:
    """`--check` exits 1 for a missing, stale or stray file and 0 after a build, writing
    nothing itself."""
    assert build.main(["--check", "--out", str(tmp_path)]) == 1
    assert list(tmp_path.iterdir()) == []
    assert build.main(["--out", str(tmp_path)]) == 0
    assert build.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "freshness.json").write_text("{}\n", encoding="utf-8")
    assert build.main(["--check", "--out", str(tmp_path)]) == 1
    assert build.main(["--out", str(tmp_path)]) == 0
    (tmp_path / "old.json").write_text("{}\n", encoding="utf-8")
    assert build.main(["--check", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("name", sorted(committed()))
def test_every_dashboard_is_of_the_current_schema(name: str) -> None:
    """The SDK's models read the dashboard back unchanged, every value has its declared type,
    and schemaVersion is the SDK's current one."""
    data = committed()[name]
    assert validate.problems(data) == []
    assert data["schemaVersion"] == validate.SCHEMA_VERSION >= 41


def _first_panel(data: dict[str, Any], kind: str) -> dict[str, Any]:
    panel: dict[str, Any] = next(p for p in data["panels"] if p["type"] == kind)
    return panel


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        (lambda d: d.update(schemaVersion=39), "schemaVersion 39"),
        (lambda d: d["panels"][0].update(titel="typo"), "titel: not in the schema's models"),
        (lambda d: d["panels"][0]["gridPos"].update(h="8"), "grid_pos.h: '8' is not an integer"),
        (lambda d: d.update(graphTooltip=7), "graph_tooltip: 7 is not one of"),
        (lambda d: d["panels"][0]["targets"][0].update(rawSQL="x"), "unknown keys ['rawSQL']"),
        (lambda d: d["panels"][0]["targets"][0].update(format="graph"), "format 'graph'"),
        (lambda d: _first_panel(d, "table").update(options={"cellHeight": "huge"}), "cell_height"),
        (
            lambda d: _first_panel(d, "state-timeline")["transformations"][0].update(idd="x"),
            "transformations[0].idd",
        ),
        (lambda d: d["templating"]["list"][1].update(refresh="always"), "refresh: 'always'"),
        (lambda d: d["panels"][0]["datasource"].update(type="mysql"), "no known data source"),
    ],
)
def test_the_validator_refuses_what_the_schema_does_not_allow(spoil: Any, expected: str) -> None:
    """A misspelled key, a value of the wrong type or enum, an unknown target or an old
    schemaVersion anywhere in a dashboard is reported, with its path."""
    data = copy.deepcopy(committed()["failover-timeline.json"])
    spoil(data)
    found = validate.problems(data)
    assert any(expected in problem for problem in found), found


@pytest.mark.parametrize("name", sorted(committed()))
def test_panels_have_ids_a_place_and_a_provisioned_data_source(name: str) -> None:
    """Panel ids are unique, every panel fits the 24-column grid without overlapping another,
    and every panel and target uses the dashboard's data source variable, whose default is
    the provisioned data source."""
    data = committed()[name]
    panels = data["panels"]
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
    variables = {v["name"]: v for v in data["templating"]["list"]}
    for panel in panels:
        source = panel["datasource"]
        assert VARIABLES[source["uid"]] == source["type"], panel["title"]
        variable = variables[source["uid"][2:-1]]
        assert variable["type"] == "datasource"
        assert variable["query"] == source["type"]
        assert variable["current"]["value"] in {POSTGRES_UID, PROMETHEUS_UID}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == source, panel["title"]
        assert panel.get("description"), f"{panel['title']} says what it shows"


def test_provisioning_names_the_data_sources_the_dashboards_default_to() -> None:
    """The data source file provisions PostgreSQL and Prometheus under the uids the dashboards'
    variables default to, with credentials only from the environment; the dashboard provider
    loads JSON files from a directory."""
    sources = yaml.safe_load(
        (PROVISIONING / "datasources" / "meraki-sync.yaml").read_text(encoding="utf-8")
    )
    assert sources["apiVersion"] == 1
    by_uid = {source["uid"]: source for source in sources["datasources"]}
    assert by_uid[POSTGRES_UID]["type"] == POSTGRES_TYPE
    assert by_uid[PROMETHEUS_UID]["type"] == "prometheus"
    postgres = by_uid[POSTGRES_UID]
    for value in (postgres["url"], postgres["user"], postgres["jsonData"]["database"]):
        assert value.startswith("${MERAKI_SYNC_"), value
    assert postgres["secureJsonData"]["password"] == "${MERAKI_SYNC_PG_PASSWORD}"
    providers = yaml.safe_load(
        (PROVISIONING / "dashboards" / "meraki-sync.yaml").read_text(encoding="utf-8")
    )
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")
    uids = {data["uid"] for data in committed().values()}
    assert len(uids) == len(committed())


def test_every_panel_query_is_used_and_the_files_parse() -> None:
    """Each named query in grafana/sql is the rawSql of some panel or variable, and a query file
    with SQL before its first header or a name used twice is refused."""
    used = {
        target["rawSql"]
        for data in committed().values()
        for panel in data["panels"]
        for target in panel["targets"]
        if "rawSql" in target
    } | {
        variable["query"]
        for data in committed().values()
        for variable in data["templating"]["list"]
        if variable["type"] == "query" and variable["datasource"]["type"] == POSTGRES_TYPE
    }
    unused = {name for name, sql in queries().items() if sql not in used}
    assert not unused
    with pytest.raises(ValueError, match="before the first"):
        parse("SELECT 1;\n-- name: a\nSELECT 2;\n", "x.sql")
    with pytest.raises(ValueError, match="defined twice"):
        parse("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n", "x.sql")
    assert parse("-- about\n-- name: a\nSELECT 1;\n", "x.sql") == {"a": "SELECT 1\n"}
