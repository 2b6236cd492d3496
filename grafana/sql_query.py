"""The PostgreSQL data source's query: grafana-foundation-sdk models Prometheus queries but not
SQL ones, so this is the SDK's Dataquery variant for raw SQL, with a builder and the decoding
hook that lets the SDK read such a target back."""

from __future__ import annotations

from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

POSTGRES_TYPE = "grafana-postgresql-datasource"
Format = Literal["table", "time_series"]
_KEYS = frozenset({"refId", "datasource", "editorMode", "format", "rawQuery", "rawSql"})


class SqlQuery(cogvariants.Dataquery):
    """A code-mode SQL target: Grafana expands its macros and variables, then runs rawSql."""

    ref_id: str
    raw_sql: str
    format_val: Format
    datasource: dashboard.DataSourceRef | None

    def __init__(
        self,
        ref_id: str = "A",
        raw_sql: str = "",
        format_val: Format = "table",
        datasource: dashboard.DataSourceRef | None = None,
    ) -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.format_val = format_val
        self.datasource = datasource

    def to_json(self) -> dict[str, object]:
        """The target as Grafana stores it."""
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "editorMode": "code",
            "format": self.format_val,
            "rawQuery": True,
            "rawSql": self.raw_sql,
        }
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Read a target back; anything but a code-mode raw SQL target is refused."""
        unknown = set(data) - _KEYS
        if unknown:
            raise ValueError(f"SQL target has unknown keys {sorted(unknown)}")
        if data.get("editorMode") != "code" or data.get("rawQuery") is not True:
            raise ValueError("SQL target must be editorMode code with rawQuery true")
        if data.get("format") not in ("table", "time_series"):
            raise ValueError(
                f"SQL target format {data.get('format')!r} is not table or time_series"
            )
        source = data.get("datasource")
        return cls(
            ref_id=data["refId"],
            raw_sql=data["rawSql"],
            format_val=data["format"],
            datasource=dashboard.DataSourceRef.from_json(source) if source is not None else None,
        )


class Sql(cogbuilder.Builder[SqlQuery]):
    """Builder of a SQL target, in the SDK's style."""

    def __init__(self, raw_sql: str) -> None:
        self._internal = SqlQuery(raw_sql=raw_sql)

    def build(self) -> SqlQuery:
        """The target."""
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        """The target's id within its panel."""
        self._internal.ref_id = ref_id
        return self

    def format(self, format_val: Format) -> Self:
        """table, or time_series (a time column, an optional metric column, numbers)."""
        self._internal.format_val = format_val
        return self

    def datasource(self, datasource: dashboard.DataSourceRef) -> Self:
        """The data source the target runs on."""
        self._internal.datasource = datasource
        return self


def register() -> None:
    """Teach the SDK's decoder SQL targets (panels whose data source is PostgreSQL)."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=POSTGRES_TYPE, from_json_hook=SqlQuery.from_json)
    )
