"""The dashboards an MSP shows about its customers, on the PostgreSQL data source: the
customer overview, ISP quality per customer and uplink, the failover timeline and Secure Access
sites. Their SQL is in grafana/sql/; the reports are the functions of schema.sql."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import statetimeline
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from grafana.panels import (
    POSTGRES,
    base,
    customer_variable,
    postgres_variable,
    sql,
    sql_series,
    sql_stat,
    sql_table,
    sql_variable,
)

FOLLOWS_RANGE = " over the dashboard's time range"


def _states(options: dict[str, tuple[str, str]]) -> list[model.ValueMapping]:
    """Value mappings of a state panel: number -> (text, color)."""
    return [
        model.ValueMap(
            options={
                value: model.ValueMappingResult(text=text, color=color, index=index)
                for index, (value, (text, color)) in enumerate(options.items())
            }
        )
    ]


def _split_by(field: str) -> model.DataTransformerConfig:
    """One frame per value of `field` (a device, a site): a state timeline row each."""
    return model.DataTransformerConfig(
        id_val="partitionByValues", options={"fields": [field], "keepFields": False}
    )


def _timeline(
    title: str, name: str, description: str, field: str, states: dict[str, tuple[str, str]]
) -> statetimeline.Panel:
    """A state timeline of rows (time, `field`, state number), one line per `field` value."""
    return (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .datasource(POSTGRES)
        .with_target(sql(name))
        .with_transformation(_split_by(field))
        .mappings(_states(states))
        .merge_values(True)
        # Told by colour and legend, not printed on the bars.
        .show_value(common.VisibilityMode.NEVER)
        .height(12)
        .span(24)
    )


def customer_overview() -> dash.Dashboard:
    """Where every customer stands now, and the reports over the time range."""
    return (
        base(
            "meraki-sync-customers",
            "meraki-sync / Customer overview",
            "Devices, failovers and Secure Access sites per customer: now, and availability"
            f" and failovers{FOLLOWS_RANGE} (the report functions of the meraki schema).",
            "now-30d",
        )
        .with_variable(postgres_variable())
        .with_variable(customer_variable())
        .with_panel(
            sql_stat(
                "Devices offline now",
                "overview_devices_offline",
                "Devices of the selected customers whose status is offline.",
            )
        )
        .with_panel(
            sql_stat(
                "Devices failed over now",
                "overview_failed_over",
                "Devices whose backup uplink (wan2, wan3 or cellular) carries traffic now.",
            )
        )
        .with_panel(
            sql_stat(
                "Secure Access sites not good",
                "overview_sase_not_good",
                "Secure Access sites whose current status is not good.",
            )
        )
        .with_panel(
            sql_stat(
                "Device availability",
                "overview_availability",
                "Device-seconds online or alerting of those online, alerting or offline"
                f"{FOLLOWS_RANGE} (dormant left out): meraki.report_device_availability.",
                "percent",
            ).decimals(3)
        )
        .with_panel(
            sql_table(
                "Customers now",
                "overview_now",
                "Per customer: mapped networks, live devices, devices offline, devices failed"
                " over and Secure Access sites not good, now.",
            )
        )
        .with_panel(
            sql_table(
                "Device availability per customer",
                "overview_device_availability",
                "meraki.report_device_availability" + FOLLOWS_RANGE + ": available = online or"
                " alerting, unavailable = offline, dormant excluded; from Meraki's own"
                " transition times.",
                width=12,
            ).unit("s")
        )
        .with_panel(
            sql_table(
                "Failovers per customer",
                "overview_failovers",
                "meraki.report_failovers" + FOLLOWS_RANGE + ": failovers that began in the"
                " range and device-seconds on cellular and on any backup uplink (as seen by"
                " meraki-sync, within a minute).",
                width=12,
            ).unit("s")
        )
        .with_panel(
            sql_table(
                "Secure Access availability per customer",
                "overview_sase_availability",
                "meraki.report_sase_site_availability" + FOLLOWS_RANGE + ": site-seconds good"
                " of those not dormant.",
                width=12,
            ).unit("s")
        )
        .with_panel(
            sql_table(
                "Least available devices",
                "overview_weak_devices",
                "The 50 devices with the lowest availability" + FOLLOWS_RANGE + ".",
                width=12,
            ).unit("s")
        )
    )


def uplink_variable() -> dash.CustomVariable:
    """$uplink: the uplink interfaces to show."""
    return (
        dash.CustomVariable("uplink")
        .label("Uplink")
        .values("wan1,wan2,wan3,cellular")
        .multi(True)
        .include_all(True)
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )


def isp_quality() -> dash.Dashboard:
    """Loss and latency per customer and per uplink over time."""
    return (
        base(
            "meraki-sync-isp-quality",
            "meraki-sync / ISP quality",
            "Loss and latency of every uplink of the selected customers' networks, from"
            " meraki.customer_uplink_samples (one sample a minute per uplink and probe IP).",
            "now-24h",
        )
        .with_variable(postgres_variable())
        .with_variable(customer_variable())
        .with_variable(sql_variable("network", "Network", "network_variable"))
        .with_variable(uplink_variable())
        .with_panel(
            sql_series(
                "Latency per customer",
                "isp_latency_by_customer",
                "Average round-trip latency of the customer's uplinks.",
                "ms",
            )
        )
        .with_panel(
            sql_series(
                "Loss per customer",
                "isp_loss_by_customer",
                "Average packet loss of the customer's uplinks.",
                "percent",
            )
        )
        .with_panel(
            sql_series(
                "Latency per uplink",
                "isp_latency_by_uplink",
                "Average round-trip latency per device and uplink (all probe IPs).",
                "ms",
                height=10,
            )
        )
        .with_panel(
            sql_series(
                "Loss per uplink",
                "isp_loss_by_uplink",
                "Average packet loss per device and uplink (all probe IPs).",
                "percent",
                height=10,
            )
        )
        .with_panel(
            sql_table(
                "Uplinks" + FOLLOWS_RANGE,
                "isp_uplink_summary",
                "Per uplink: its ISP (the carrier of a cellular uplink, the public IP of a"
                " wired one), latency median and 95th percentile, average loss, minutes at"
                " 100 % loss.",
                height=10,
            )
        )
    )


def failover_timeline() -> dash.Dashboard:
    """Which devices ran on a backup uplink when, and the failovers per customer."""
    return (
        base(
            "meraki-sync-failovers",
            "meraki-sync / Failover timeline",
            "Failover episodes (a backup uplink carrying traffic) from meraki.customer_failover_"
            "events; times are when meraki-sync saw each change, within"
            " sync.uplink_statuses_interval_s (a minute).",
            "now-7d",
        )
        .with_variable(postgres_variable())
        .with_variable(customer_variable())
        .with_panel(
            _timeline(
                "Failover timeline",
                "failover_timeline",
                "Per device: on its primary uplink, on a wired backup (wan2/wan3) or on"
                " cellular; only devices that failed over in the range.",
                "device",
                {
                    "0": ("primary uplink", "green"),
                    "1": ("wired backup", "orange"),
                    "2": ("cellular", "red"),
                },
            )
        )
        .with_panel(
            sql_series(
                "Failovers started",
                "failovers_started",
                "Failover episodes that began in each interval, per customer.",
                "short",
            ).draw_style(common.GraphDrawStyle.BARS)
        )
        .with_panel(
            sql_table(
                "On cellular now",
                "on_cellular_now",
                "Devices whose cellular uplink carries traffic now, and since when meraki-sync"
                " first saw it.",
                width=12,
            ).unit("s")
        )
        .with_panel(
            sql_table(
                "Failovers per customer",
                "failover_report",
                "meraki.report_failovers" + FOLLOWS_RANGE + ".",
            ).unit("s")
        )
        .with_panel(
            sql_table(
                "Failover episodes",
                "failover_events",
                "Every episode overlapping the range, newest first (500 at most).",
                height=10,
            ).unit("s")
        )
    )


def secure_access() -> dash.Dashboard:
    """Secure Access sites: status now, history and availability."""
    return (
        base(
            "meraki-sync-secure-access",
            "meraki-sync / Secure Access sites",
            "Cisco Secure Access (SASE) sites of the selected customers: their status now, the"
            " connectivity history and site availability (meraki.report_sase_site_"
            "availability) over the time range.",
            "now-7d",
        )
        .with_variable(postgres_variable())
        .with_variable(customer_variable())
        .with_panel(
            sql_table(
                "Sites by status",
                "sase_by_status",
                "Sites per current status.",
                height=6,
                width=8,
            )
        )
        .with_panel(
            sql_table(
                "Sites not good now",
                "sase_not_good",
                "Sites whose current status is not good, longest first.",
                height=6,
                width=16,
            )
        )
        .with_panel(
            _timeline(
                "Site status",
                "sase_timeline",
                "Per site: good, degraded (bad tunnel, bad NAT, many bad tunnels), down"
                " (offline, no registry) or dormant, from the site's connectivity history.",
                "site",
                {
                    "0": ("good", "green"),
                    "1": ("degraded", "orange"),
                    "2": ("down", "red"),
                    "3": ("dormant", "gray"),
                },
            )
        )
        .with_panel(
            sql_table(
                "Site availability per customer",
                "sase_customer_availability",
                "meraki.report_sase_site_availability" + FOLLOWS_RANGE + ".",
                width=12,
            ).unit("s")
        )
        .with_panel(
            sql_table(
                "Site availability",
                "sase_site_availability",
                "meraki.report_sase_site_availability_by_site" + FOLLOWS_RANGE + ".",
                width=12,
            ).unit("s")
        )
        .with_panel(
            sql_table(
                "Connectivity history",
                "sase_history",
                "Every status entry of the sites and their primary and spare devices in the"
                " range, newest first (500 at most).",
                height=10,
            )
        )
    )
