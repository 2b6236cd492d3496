"""Building blocks the dashboards share: the two data sources (chosen through dashboard
variables, so an imported dashboard works with any PostgreSQL or Prometheus data source), the
customer variable, and panels with their targets."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

from grafana.queries import query
from grafana.sql_query import POSTGRES_TYPE, Format, Sql

# Provisioned by grafana/provisioning/datasources/meraki-sync.yaml; the dashboards' data source
# variables default to them.
POSTGRES_UID = "meraki-sync-postgres"
PROMETHEUS_UID = "meraki-sync-prometheus"
POSTGRES = model.DataSourceRef(type_val=POSTGRES_TYPE, uid="${postgres}")
PROMETHEUS = model.DataSourceRef(type_val="prometheus", uid="${prometheus}")
TAGS = ["meraki-sync"]


def datasource_variable(name: str, plugin: str, uid: str, label: str) -> dash.DatasourceVariable:
    """A data source picker of one plugin type, set to the provisioned data source."""
    return (
        dash.DatasourceVariable(name)
        .label(label)
        .type(plugin)
        .current(model.VariableOption(selected=True, text=uid, value=uid))
    )


def postgres_variable() -> dash.DatasourceVariable:
    """$postgres: the meraki-sync database (any PostgreSQL data source)."""
    return datasource_variable("postgres", POSTGRES_TYPE, POSTGRES_UID, "Database")


def prometheus_variable() -> dash.DatasourceVariable:
    """$prometheus: the Prometheus that scrapes meraki-sync."""
    return datasource_variable("prometheus", "prometheus", PROMETHEUS_UID, "Prometheus")


def sql_variable(name: str, label: str, sql_name: str) -> dash.QueryVariable:
    """A multi-value variable from a SQL query of __value/__text columns, All selected."""
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(POSTGRES)
        .query(query(sql_name))
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .multi(True)
        .include_all(True)
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
    )


def customer_variable() -> dash.QueryVariable:
    """$customer: the MSP's customers of meraki.customer_map (ids, shown by name)."""
    return sql_variable("customer", "Customer", "customer_variable")


def sql(name: str, format_val: Format = "table", ref_id: str = "A") -> Sql:
    """The target running the named panel query on $postgres."""
    return Sql(query(name)).ref_id(ref_id).format(format_val).datasource(POSTGRES)


def promql(
    expr: str, legend: str, ref_id: str = "A", *, instant: bool = False
) -> prometheus.Dataquery:
    """A PromQL target on $prometheus."""
    target = (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref_id)
        .datasource(PROMETHEUS)
        .editor_mode(prometheus_model.QueryEditorMode.CODE)
    )
    return target.instant() if instant else target.range()


def sql_table(
    title: str, name: str, description: str, *, height: int = 8, width: int = 24
) -> table.Panel:
    """A table of one SQL query."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(POSTGRES)
        .with_target(sql(name))
        .height(height)
        .span(width)
    )


def sql_series(
    title: str, name: str, description: str, unit: str, *, height: int = 8, width: int = 12
) -> timeseries.Panel:
    """A time series of one SQL query (a time column, a metric column, a value)."""
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(POSTGRES)
        .with_target(sql(name, "time_series"))
        .unit(unit)
        .height(height)
        .span(width)
    )


def sql_stat(title: str, name: str, description: str, unit: str = "none") -> stat.Panel:
    """A single number of one SQL query."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(POSTGRES)
        .with_target(sql(name))
        .unit(unit)
        .height(4)
        .span(6)
    )


def prom_series(
    title: str,
    description: str,
    unit: str,
    targets: list[prometheus.Dataquery],
    *,
    width: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    """A time series of PromQL targets."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .unit(unit)
        .height(height)
        .span(width)
    )
    for target in targets:
        panel = panel.with_target(target)
    return panel


def prom_stat(
    title: str, description: str, expr: str, legend: str, unit: str = "none"
) -> stat.Panel:
    """A single number of one instant PromQL query."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .with_target(promql(expr, legend, instant=True))
        .unit(unit)
        .height(4)
        .span(4)
    )


def base(uid: str, title: str, description: str, time_from: str) -> dash.Dashboard:
    """A dashboard with the pack's tags, read-only (provisioned), refreshed every minute as
    the sync lands."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .timezone("browser")
        .time(time_from, "now")
        .refresh("1m")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .readonly()
    )
