-- meraki-sync database schema. Idempotent: `meraki-sync migrate` applies it as often as needed,
-- inside one transaction, under an advisory lock. Other tools read these tables and views.

CREATE SCHEMA IF NOT EXISTS meraki;
COMMENT ON SCHEMA meraki IS 'Mirror of a Cisco Meraki Dashboard estate, kept in step by meraki-sync. Read-only for every other tool.';

CREATE TABLE IF NOT EXISTS meraki.schema_version (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE meraki.schema_version IS 'One row per schema version applied by meraki-sync migrate; the highest is current.';
COMMENT ON COLUMN meraki.schema_version.version IS 'Schema version number.';
COMMENT ON COLUMN meraki.schema_version.applied_at IS 'When this version was first applied.';

CREATE TABLE IF NOT EXISTS meraki.organizations (
    id               text        PRIMARY KEY,
    name             text        NOT NULL,
    url              text,
    api_enabled      boolean     NOT NULL,
    licensing_model  text,
    cloud_region     text,
    first_seen_at    timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    removed_at       timestamptz
);
COMMENT ON TABLE meraki.organizations IS 'Meraki organizations visible to the API key (limited to meraki.organizations in the config when set).';
COMMENT ON COLUMN meraki.organizations.id IS 'Meraki organization id.';
COMMENT ON COLUMN meraki.organizations.name IS 'Organization name in the Dashboard.';
COMMENT ON COLUMN meraki.organizations.url IS 'Dashboard URL of the organization overview.';
COMMENT ON COLUMN meraki.organizations.api_enabled IS 'False when API access is disabled for the organization; meraki-sync then makes no calls for it.';
COMMENT ON COLUMN meraki.organizations.licensing_model IS 'Licensing model (co-term, per-device, subscription).';
COMMENT ON COLUMN meraki.organizations.cloud_region IS 'Meraki cloud region hosting the organization.';
COMMENT ON COLUMN meraki.organizations.first_seen_at IS 'When meraki-sync first saw the organization.';
COMMENT ON COLUMN meraki.organizations.last_seen_at IS 'When the organization was last listed by the API.';
COMMENT ON COLUMN meraki.organizations.updated_at IS 'When any synced column of this row last changed.';
COMMENT ON COLUMN meraki.organizations.removed_at IS 'When the organization stopped being listed (soft delete); NULL while it is listed.';

CREATE TABLE IF NOT EXISTS meraki.networks (
    id                          text        PRIMARY KEY,
    organization_id             text        NOT NULL REFERENCES meraki.organizations (id),
    name                        text        NOT NULL,
    product_types               text[]      NOT NULL DEFAULT '{}',
    time_zone                   text,
    tags                        text[]      NOT NULL DEFAULT '{}',
    is_bound_to_config_template boolean,
    url                         text,
    notes                       text,
    first_seen_at               timestamptz NOT NULL,
    last_seen_at                timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    removed_at                  timestamptz
);
CREATE INDEX IF NOT EXISTS networks_organization_id_idx ON meraki.networks (organization_id);
COMMENT ON TABLE meraki.networks IS 'Meraki networks, from GET /organizations/{id}/networks.';
COMMENT ON COLUMN meraki.networks.id IS 'Meraki network id (N_… or L_…).';
COMMENT ON COLUMN meraki.networks.organization_id IS 'Organization the network belongs to.';
COMMENT ON COLUMN meraki.networks.name IS 'Network name in the Dashboard.';
COMMENT ON COLUMN meraki.networks.product_types IS 'Product types in the network (appliance, switch, wireless, camera, sensor, cellularGateway, …).';
COMMENT ON COLUMN meraki.networks.time_zone IS 'IANA time zone of the network.';
COMMENT ON COLUMN meraki.networks.tags IS 'Network tags.';
COMMENT ON COLUMN meraki.networks.is_bound_to_config_template IS 'True when the network is bound to a configuration template.';
COMMENT ON COLUMN meraki.networks.url IS 'Dashboard URL of the network.';
COMMENT ON COLUMN meraki.networks.notes IS 'Free-text notes on the network.';
COMMENT ON COLUMN meraki.networks.first_seen_at IS 'When meraki-sync first saw the network.';
COMMENT ON COLUMN meraki.networks.last_seen_at IS 'When the network was last listed by the API.';
COMMENT ON COLUMN meraki.networks.updated_at IS 'When any synced column of this row last changed.';
COMMENT ON COLUMN meraki.networks.removed_at IS 'When the network stopped being listed (soft delete); NULL while it is listed.';

CREATE TABLE IF NOT EXISTS meraki.devices (
    serial            text        PRIMARY KEY,
    organization_id   text        NOT NULL REFERENCES meraki.organizations (id),
    network_id        text,
    name              text,
    model             text,
    mac               text,
    product_type      text,
    firmware          text,
    lan_ip            text,
    tags              text[]      NOT NULL DEFAULT '{}',
    lat               double precision,
    lng               double precision,
    address           text,
    notes             text,
    status            text,
    last_reported_at  timestamptz,
    public_ip         text,
    gateway           text,
    ip_type           text,
    primary_dns       text,
    secondary_dns     text,
    status_checked_at timestamptz,
    first_seen_at     timestamptz NOT NULL,
    last_seen_at      timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    removed_at        timestamptz
);
CREATE INDEX IF NOT EXISTS devices_organization_id_idx ON meraki.devices (organization_id);
CREATE INDEX IF NOT EXISTS devices_network_id_idx ON meraki.devices (network_id);
COMMENT ON TABLE meraki.devices IS 'Meraki devices (MX, MS, MR, MV, MT, MG, …): inventory from GET /organizations/{id}/devices, status from GET /organizations/{id}/devices/statuses.';
COMMENT ON COLUMN meraki.devices.serial IS 'Device serial number (Meraki''s natural key).';
COMMENT ON COLUMN meraki.devices.organization_id IS 'Organization the device belongs to.';
COMMENT ON COLUMN meraki.devices.network_id IS 'Network the device is in; NULL when unassigned.';
COMMENT ON COLUMN meraki.devices.name IS 'Device name in the Dashboard.';
COMMENT ON COLUMN meraki.devices.model IS 'Hardware model, e.g. MX68, MS250-48FP, MR46, MV22, MT14, MG21.';
COMMENT ON COLUMN meraki.devices.mac IS 'MAC address.';
COMMENT ON COLUMN meraki.devices.product_type IS 'Product type: appliance, switch, wireless, camera, sensor, cellularGateway, …';
COMMENT ON COLUMN meraki.devices.firmware IS 'Firmware version string as reported by the inventory.';
COMMENT ON COLUMN meraki.devices.lan_ip IS 'LAN IP address.';
COMMENT ON COLUMN meraki.devices.tags IS 'Device tags.';
COMMENT ON COLUMN meraki.devices.lat IS 'Latitude set in the Dashboard.';
COMMENT ON COLUMN meraki.devices.lng IS 'Longitude set in the Dashboard.';
COMMENT ON COLUMN meraki.devices.address IS 'Street address set in the Dashboard.';
COMMENT ON COLUMN meraki.devices.notes IS 'Free-text notes on the device.';
COMMENT ON COLUMN meraki.devices.status IS 'Last known status: online, alerting, offline or dormant.';
COMMENT ON COLUMN meraki.devices.last_reported_at IS 'When the device last reported to the Meraki cloud.';
COMMENT ON COLUMN meraki.devices.public_ip IS 'Public IP the device reaches the cloud from.';
COMMENT ON COLUMN meraki.devices.gateway IS 'Default gateway of the device.';
COMMENT ON COLUMN meraki.devices.ip_type IS 'How the LAN IP is assigned (dhcp, static).';
COMMENT ON COLUMN meraki.devices.primary_dns IS 'Primary DNS server.';
COMMENT ON COLUMN meraki.devices.secondary_dns IS 'Secondary DNS server.';
COMMENT ON COLUMN meraki.devices.status_checked_at IS 'When the status columns were last refreshed from the statuses endpoint.';
COMMENT ON COLUMN meraki.devices.first_seen_at IS 'When meraki-sync first saw the device.';
COMMENT ON COLUMN meraki.devices.last_seen_at IS 'When the device was last listed by the inventory or statuses endpoint.';
COMMENT ON COLUMN meraki.devices.updated_at IS 'When any synced column of this row last changed.';
COMMENT ON COLUMN meraki.devices.removed_at IS 'When the device left the organization''s inventory (soft delete); NULL while it is listed.';

CREATE TABLE IF NOT EXISTS meraki.device_status_changes (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    serial           text        NOT NULL,
    organization_id  text        NOT NULL,
    network_id       text,
    old_status       text        NOT NULL,
    new_status       text        NOT NULL,
    observed_at      timestamptz NOT NULL,
    last_reported_at timestamptz
);
CREATE INDEX IF NOT EXISTS device_status_changes_serial_idx ON meraki.device_status_changes (serial, observed_at);
CREATE INDEX IF NOT EXISTS device_status_changes_observed_at_idx ON meraki.device_status_changes (observed_at);
COMMENT ON TABLE meraki.device_status_changes IS 'One row per device status transition seen between two syncs of the statuses endpoint.';
COMMENT ON COLUMN meraki.device_status_changes.id IS 'Row id, increasing in the order transitions were recorded.';
COMMENT ON COLUMN meraki.device_status_changes.serial IS 'Device serial number.';
COMMENT ON COLUMN meraki.device_status_changes.organization_id IS 'Organization of the device at the time.';
COMMENT ON COLUMN meraki.device_status_changes.network_id IS 'Network of the device at the time.';
COMMENT ON COLUMN meraki.device_status_changes.old_status IS 'Status before the transition.';
COMMENT ON COLUMN meraki.device_status_changes.new_status IS 'Status after the transition.';
COMMENT ON COLUMN meraki.device_status_changes.observed_at IS 'When meraki-sync saw the new status (the transition happened since the previous sync).';
COMMENT ON COLUMN meraki.device_status_changes.last_reported_at IS 'The device''s lastReportedAt when the new status was seen.';

CREATE TABLE IF NOT EXISTS meraki.sync_runs (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id text,
    dataset         text        NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    rows            integer     NOT NULL,
    rejected_rows   integer     NOT NULL,
    requests        integer     NOT NULL,
    rate_limited    integer     NOT NULL,
    outcome         text        NOT NULL CHECK (outcome IN ('ok', 'skipped', 'failed')),
    error           text
);
CREATE INDEX IF NOT EXISTS sync_runs_org_dataset_idx ON meraki.sync_runs (organization_id, dataset, finished_at DESC);
COMMENT ON TABLE meraki.sync_runs IS 'Bookkeeping: one row per (organization, dataset) sync run.';
COMMENT ON COLUMN meraki.sync_runs.id IS 'Run id.';
COMMENT ON COLUMN meraki.sync_runs.organization_id IS 'Organization synced; NULL for the organizations listing itself.';
COMMENT ON COLUMN meraki.sync_runs.dataset IS 'Dataset name: organizations, networks, devices, device_statuses, …';
COMMENT ON COLUMN meraki.sync_runs.started_at IS 'When the run started.';
COMMENT ON COLUMN meraki.sync_runs.finished_at IS 'When the run ended.';
COMMENT ON COLUMN meraki.sync_runs.rows IS 'Rows merged.';
COMMENT ON COLUMN meraki.sync_runs.rejected_rows IS 'API rows skipped because a required field was missing or invalid.';
COMMENT ON COLUMN meraki.sync_runs.requests IS 'HTTP requests sent, retries and redirects included.';
COMMENT ON COLUMN meraki.sync_runs.rate_limited IS 'HTTP 429 answers received.';
COMMENT ON COLUMN meraki.sync_runs.outcome IS 'ok, skipped (403/404: the org lacks access or the feature) or failed.';
COMMENT ON COLUMN meraki.sync_runs.error IS 'Why the run was skipped or failed; NULL when ok.';


-- ---------------------------------------------------------------------------------------------
-- Version 2: uplinks, loss/latency samples, Secure Access (SASE) sites, customer mapping.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS meraki.uplink_statuses (
    serial           text        NOT NULL,
    interface        text        NOT NULL,
    organization_id  text        NOT NULL REFERENCES meraki.organizations (id),
    network_id       text,
    model            text,
    status           text        NOT NULL,
    ip               text,
    gateway          text,
    public_ip        text,
    primary_dns      text,
    secondary_dns    text,
    ip_assigned_by   text,
    provider         text,
    signal_type      text,
    connection_type  text,
    rsrp             double precision,
    rsrq             double precision,
    apn              text,
    iccid            text,
    roaming          boolean,
    mcc              text,
    mnc              text,
    ha_enabled       boolean,
    ha_role          text,
    last_reported_at timestamptz,
    status_since     timestamptz NOT NULL,
    first_seen_at    timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    removed_at       timestamptz,
    PRIMARY KEY (serial, interface)
);
CREATE INDEX IF NOT EXISTS uplink_statuses_organization_id_idx ON meraki.uplink_statuses (organization_id);
CREATE INDEX IF NOT EXISTS uplink_statuses_network_id_idx ON meraki.uplink_statuses (network_id);
COMMENT ON TABLE meraki.uplink_statuses IS 'Current status of every uplink (wan1, wan2, wan3, cellular) of MX, Z and MG devices, from GET /organizations/{id}/uplinks/statuses.';
COMMENT ON COLUMN meraki.uplink_statuses.serial IS 'Device serial number.';
COMMENT ON COLUMN meraki.uplink_statuses.interface IS 'Uplink interface: wan1, wan2, wan3 or cellular.';
COMMENT ON COLUMN meraki.uplink_statuses.organization_id IS 'Organization the device belongs to.';
COMMENT ON COLUMN meraki.uplink_statuses.network_id IS 'Network the device is in.';
COMMENT ON COLUMN meraki.uplink_statuses.model IS 'Device model, e.g. MX68CW or MG41.';
COMMENT ON COLUMN meraki.uplink_statuses.status IS 'Uplink status: active (carrying traffic), ready (standby), connecting, not connected or failed.';
COMMENT ON COLUMN meraki.uplink_statuses.ip IS 'IP address of the uplink.';
COMMENT ON COLUMN meraki.uplink_statuses.gateway IS 'Gateway of the uplink.';
COMMENT ON COLUMN meraki.uplink_statuses.public_ip IS 'Public IP the uplink reaches the internet from.';
COMMENT ON COLUMN meraki.uplink_statuses.primary_dns IS 'Primary DNS server of the uplink.';
COMMENT ON COLUMN meraki.uplink_statuses.secondary_dns IS 'Secondary DNS server of the uplink.';
COMMENT ON COLUMN meraki.uplink_statuses.ip_assigned_by IS 'How the uplink got its IP: dhcp, static, …';
COMMENT ON COLUMN meraki.uplink_statuses.provider IS 'Cellular: the mobile carrier.';
COMMENT ON COLUMN meraki.uplink_statuses.signal_type IS 'Cellular: signal type, e.g. 4G or 5G.';
COMMENT ON COLUMN meraki.uplink_statuses.connection_type IS 'Cellular: connection type, e.g. 4g, 5g, lte.';
COMMENT ON COLUMN meraki.uplink_statuses.rsrp IS 'Cellular: reference signal received power, dBm (Meraki sends it as a string).';
COMMENT ON COLUMN meraki.uplink_statuses.rsrq IS 'Cellular: reference signal received quality, dB (Meraki sends it as a string).';
COMMENT ON COLUMN meraki.uplink_statuses.apn IS 'Cellular: access point name.';
COMMENT ON COLUMN meraki.uplink_statuses.iccid IS 'Cellular: SIM card ICCID.';
COMMENT ON COLUMN meraki.uplink_statuses.roaming IS 'Cellular: true while the SIM is roaming.';
COMMENT ON COLUMN meraki.uplink_statuses.mcc IS 'Cellular: mobile country code.';
COMMENT ON COLUMN meraki.uplink_statuses.mnc IS 'Cellular: mobile network code.';
COMMENT ON COLUMN meraki.uplink_statuses.ha_enabled IS 'True when the device is part of a warm-spare (high availability) pair.';
COMMENT ON COLUMN meraki.uplink_statuses.ha_role IS 'High-availability role: primary or spare.';
COMMENT ON COLUMN meraki.uplink_statuses.last_reported_at IS 'When the device last reported its uplinks to the Meraki cloud.';
COMMENT ON COLUMN meraki.uplink_statuses.status_since IS 'When meraki-sync first saw the current status (the change happened between the previous sync and this time).';
COMMENT ON COLUMN meraki.uplink_statuses.first_seen_at IS 'When meraki-sync first saw this uplink.';
COMMENT ON COLUMN meraki.uplink_statuses.last_seen_at IS 'When this uplink was last listed by the API.';
COMMENT ON COLUMN meraki.uplink_statuses.updated_at IS 'When any synced column of this row last changed.';
COMMENT ON COLUMN meraki.uplink_statuses.removed_at IS 'When this uplink stopped being listed (soft delete); NULL while it is listed.';

CREATE TABLE IF NOT EXISTS meraki.uplink_status_changes (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    serial           text        NOT NULL,
    interface        text        NOT NULL,
    organization_id  text        NOT NULL,
    network_id       text,
    old_status       text,
    new_status       text        NOT NULL,
    observed_at      timestamptz NOT NULL,
    last_reported_at timestamptz
);
CREATE INDEX IF NOT EXISTS uplink_status_changes_serial_idx ON meraki.uplink_status_changes (serial, interface, observed_at);
CREATE INDEX IF NOT EXISTS uplink_status_changes_observed_at_idx ON meraki.uplink_status_changes (observed_at);
COMMENT ON TABLE meraki.uplink_status_changes IS 'Uplink status history: the first status seen for each uplink (old_status NULL), then one row per transition.';
COMMENT ON COLUMN meraki.uplink_status_changes.id IS 'Row id, increasing in the order changes were recorded.';
COMMENT ON COLUMN meraki.uplink_status_changes.serial IS 'Device serial number.';
COMMENT ON COLUMN meraki.uplink_status_changes.interface IS 'Uplink interface: wan1, wan2, wan3 or cellular.';
COMMENT ON COLUMN meraki.uplink_status_changes.organization_id IS 'Organization of the device at the time.';
COMMENT ON COLUMN meraki.uplink_status_changes.network_id IS 'Network of the device at the time.';
COMMENT ON COLUMN meraki.uplink_status_changes.old_status IS 'Status before the change; NULL for the first sighting of the uplink.';
COMMENT ON COLUMN meraki.uplink_status_changes.new_status IS 'Status after the change; removed when the uplink stopped being listed.';
COMMENT ON COLUMN meraki.uplink_status_changes.observed_at IS 'When meraki-sync saw the new status (the change happened since the previous sync).';
COMMENT ON COLUMN meraki.uplink_status_changes.last_reported_at IS 'The device''s lastReportedAt when the new status was seen.';

CREATE TABLE IF NOT EXISTS meraki.uplink_samples (
    serial          text        NOT NULL,
    uplink          text        NOT NULL,
    ip              text        NOT NULL,
    ts              timestamptz NOT NULL,
    organization_id text        NOT NULL,
    network_id      text,
    loss_percent    real,
    latency_ms      real,
    PRIMARY KEY (serial, uplink, ip, ts)
) PARTITION BY RANGE (ts);
COMMENT ON TABLE meraki.uplink_samples IS 'Uplink loss and latency samples (one a minute per device, uplink and probe IP) from GET /organizations/{id}/devices/uplinksLossAndLatency: the ISP performance history. Partitioned by day; partitions older than sync.retention_days are dropped.';
COMMENT ON COLUMN meraki.uplink_samples.serial IS 'Device (MX/Z) serial number.';
COMMENT ON COLUMN meraki.uplink_samples.uplink IS 'Uplink measured: wan1, wan2, wan3 or cellular.';
COMMENT ON COLUMN meraki.uplink_samples.ip IS 'Probe destination IP the loss and latency were measured against.';
COMMENT ON COLUMN meraki.uplink_samples.ts IS 'Sample time (the start of the minute it covers).';
COMMENT ON COLUMN meraki.uplink_samples.organization_id IS 'Organization of the device.';
COMMENT ON COLUMN meraki.uplink_samples.network_id IS 'Network of the device.';
COMMENT ON COLUMN meraki.uplink_samples.loss_percent IS 'Packet loss, percent (0-100); NULL when Meraki reported none.';
COMMENT ON COLUMN meraki.uplink_samples.latency_ms IS 'Round-trip latency, milliseconds; NULL when Meraki reported none (e.g. at 100% loss).';

CREATE TABLE IF NOT EXISTS meraki.uplink_sample_windows (
    organization_id text        NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    samples         integer     NOT NULL,
    fetched_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, window_start)
);
COMMENT ON TABLE meraki.uplink_sample_windows IS 'The loss/latency watermark: one row per organization and 5-minute window whose samples are stored, written in the same transaction as the samples. Windows missing here (within the backfill horizon) are fetched, newest first.';
COMMENT ON COLUMN meraki.uplink_sample_windows.organization_id IS 'Organization.';
COMMENT ON COLUMN meraki.uplink_sample_windows.window_start IS 'Start of the window (inclusive), aligned to 5 minutes.';
COMMENT ON COLUMN meraki.uplink_sample_windows.window_end IS 'End of the window (exclusive).';
COMMENT ON COLUMN meraki.uplink_sample_windows.samples IS 'Samples stored for the window.';
COMMENT ON COLUMN meraki.uplink_sample_windows.fetched_at IS 'When the window was fetched and stored.';

CREATE OR REPLACE VIEW meraki.uplink_sample_watermarks AS
SELECT organization_id, max(window_end) AS newest_window_end, count(*) AS windows_stored
FROM meraki.uplink_sample_windows
GROUP BY organization_id;
COMMENT ON VIEW meraki.uplink_sample_watermarks IS 'Per organization: the end of the newest stored loss/latency window and how many windows are stored.';
COMMENT ON COLUMN meraki.uplink_sample_watermarks.organization_id IS 'Organization.';
COMMENT ON COLUMN meraki.uplink_sample_watermarks.newest_window_end IS 'End of the newest stored 5-minute window.';
COMMENT ON COLUMN meraki.uplink_sample_watermarks.windows_stored IS 'Stored windows (older ones are pruned with the samples'' retention).';

-- Daily partitions are created ahead (and for backfilled days) by meraki-sync, and dropped
-- once wholly older than the retention. Names are built with format('%I'), never from input.
CREATE OR REPLACE FUNCTION meraki.ensure_uplink_sample_partitions(first_day date, last_day date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    day date := first_day;
    created integer := 0;
    name text;
BEGIN
    -- Callers run concurrently (one per organization); without the lock two of them could
    -- both find a day missing and the second CREATE would fail.
    PERFORM pg_advisory_xact_lock(hashtext('meraki.ensure_uplink_sample_partitions'));
    WHILE day <= last_day LOOP
        name := format('uplink_samples_%s', to_char(day, 'YYYYMMDD'));
        IF to_regclass(format('meraki.%I', name)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE meraki.%I PARTITION OF meraki.uplink_samples FOR VALUES FROM (%L) TO (%L)',
                name, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
            EXECUTE format('COMMENT ON TABLE meraki.%I IS %L', name,
                format('Daily partition of meraki.uplink_samples for %s (UTC).', day));
            created := created + 1;
        END IF;
        day := day + 1;
    END LOOP;
    RETURN created;
END $$;
COMMENT ON FUNCTION meraki.ensure_uplink_sample_partitions(date, date) IS 'Creates the missing daily partitions of meraki.uplink_samples for UTC days first_day..last_day; returns how many it created.';

CREATE OR REPLACE FUNCTION meraki.drop_uplink_sample_partitions_before(cutoff date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace n ON n.oid = p.relnamespace
        WHERE n.nspname = 'meraki' AND p.relname = 'uplink_samples'
          AND c.relname ~ '^uplink_samples_[0-9]{8}$'
          AND to_date(substring(c.relname from '[0-9]{8}$'), 'YYYYMMDD') < cutoff
    LOOP
        EXECUTE format('DROP TABLE meraki.%I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;
-- Partition upkeep is meraki-sync's job alone.
REVOKE EXECUTE ON FUNCTION meraki.ensure_uplink_sample_partitions(date, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION meraki.drop_uplink_sample_partitions_before(date) FROM PUBLIC;
COMMENT ON FUNCTION meraki.drop_uplink_sample_partitions_before(date) IS 'Drops the daily partitions of meraki.uplink_samples for UTC days before cutoff; returns how many it dropped.';

CREATE TABLE IF NOT EXISTS meraki.sase_sites (
    site_id         text        PRIMARY KEY,
    organization_id text        NOT NULL REFERENCES meraki.organizations (id),
    network_id      text,
    name            text,
    type            text,
    model           text,
    region          text,
    status          text,
    vpn_type        text,
    default_route   boolean,
    devices         jsonb       NOT NULL DEFAULT '[]',
    local_subnets   text[]      NOT NULL DEFAULT '{}',
    first_seen_at   timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    removed_at      timestamptz
);
CREATE INDEX IF NOT EXISTS sase_sites_organization_id_idx ON meraki.sase_sites (organization_id);
COMMENT ON TABLE meraki.sase_sites IS 'Cisco Secure Access (SASE) sites attached to MX networks, from GET /organizations/{id}/sase/sites.';
COMMENT ON COLUMN meraki.sase_sites.site_id IS 'Secure Access site id.';
COMMENT ON COLUMN meraki.sase_sites.organization_id IS 'Organization of the site.';
COMMENT ON COLUMN meraki.sase_sites.network_id IS 'Meraki network the site is attached to.';
COMMENT ON COLUMN meraki.sase_sites.name IS 'Site name.';
COMMENT ON COLUMN meraki.sase_sites.type IS 'Site type, e.g. Meraki spoke.';
COMMENT ON COLUMN meraki.sase_sites.model IS 'Model of the site''s appliance.';
COMMENT ON COLUMN meraki.sase_sites.region IS 'Secure Access region slug, e.g. us-east-1.';
COMMENT ON COLUMN meraki.sase_sites.status IS 'Site status: good, bad tunnel, bad NAT, many bad tunnels, dormant, offline or no registry.';
COMMENT ON COLUMN meraki.sase_sites.vpn_type IS 'VPN role of the site: spoke or hub.';
COMMENT ON COLUMN meraki.sase_sites.default_route IS 'True when the site sends its default route through Secure Access.';
COMMENT ON COLUMN meraki.sase_sites.devices IS 'Devices of the site, as Meraki lists them (JSON array of {name, model}).';
COMMENT ON COLUMN meraki.sase_sites.local_subnets IS 'Local subnets the site advertises.';
COMMENT ON COLUMN meraki.sase_sites.first_seen_at IS 'When meraki-sync first saw the site.';
COMMENT ON COLUMN meraki.sase_sites.last_seen_at IS 'When the site was last listed by the API.';
COMMENT ON COLUMN meraki.sase_sites.updated_at IS 'When any synced column of this row last changed.';
COMMENT ON COLUMN meraki.sase_sites.removed_at IS 'When the site stopped being listed (soft delete); NULL while it is listed.';

CREATE TABLE IF NOT EXISTS meraki.sase_regions (
    organization_id text        NOT NULL REFERENCES meraki.organizations (id),
    slug            text        NOT NULL,
    connector_id    text,
    name            text,
    type            text,
    first_seen_at   timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    removed_at      timestamptz,
    PRIMARY KEY (organization_id, slug)
);
COMMENT ON TABLE meraki.sase_regions IS 'Cisco Secure Access regions available to an organization, from GET /organizations/{id}/sase/regions.';
COMMENT ON COLUMN meraki.sase_regions.organization_id IS 'Organization.';
COMMENT ON COLUMN meraki.sase_regions.slug IS 'Region slug, e.g. us-west-1.';
COMMENT ON COLUMN meraki.sase_regions.connector_id IS 'Connector id of the region.';
COMMENT ON COLUMN meraki.sase_regions.name IS 'Region name.';
COMMENT ON COLUMN meraki.sase_regions.type IS 'Connector type, e.g. CNHE.';
COMMENT ON COLUMN meraki.sase_regions.first_seen_at IS 'When meraki-sync first saw the region.';
COMMENT ON COLUMN meraki.sase_regions.last_seen_at IS 'When the region was last listed by the API.';
COMMENT ON COLUMN meraki.sase_regions.updated_at IS 'When any synced column of this row last changed.';
COMMENT ON COLUMN meraki.sase_regions.removed_at IS 'When the region stopped being listed (soft delete); NULL while it is listed.';

CREATE TABLE IF NOT EXISTS meraki.organization_features (
    organization_id text        NOT NULL REFERENCES meraki.organizations (id),
    feature         text        NOT NULL,
    available       boolean     NOT NULL,
    reason          text,
    checked_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, feature)
);
COMMENT ON TABLE meraki.organization_features IS 'Optional features per organization (e.g. sase) as meraki-sync last found them; an absent feature is re-checked rarely instead of on every pass.';
COMMENT ON COLUMN meraki.organization_features.organization_id IS 'Organization.';
COMMENT ON COLUMN meraki.organization_features.feature IS 'Feature name, e.g. sase (Cisco Secure Access).';
COMMENT ON COLUMN meraki.organization_features.available IS 'True when the organization answered the feature''s endpoints.';
COMMENT ON COLUMN meraki.organization_features.reason IS 'Why the feature counts as absent (the API''s answer); NULL when available.';
COMMENT ON COLUMN meraki.organization_features.checked_at IS 'When the feature was last checked.';

CREATE TABLE IF NOT EXISTS meraki.customer_map (
    organization_id text        NOT NULL,
    network_id      text        NOT NULL,
    customer_id     text        NOT NULL CHECK (customer_id <> ''),
    customer_name   text,
    mapped_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, network_id)
);
CREATE INDEX IF NOT EXISTS customer_map_customer_id_idx ON meraki.customer_map (customer_id);
COMMENT ON TABLE meraki.customer_map IS 'The MSP''s mapping of (organization, network) to its own customer; maintained with `meraki-sync map`. Only mapped networks appear in the customer_* views.';
COMMENT ON COLUMN meraki.customer_map.organization_id IS 'Meraki organization id.';
COMMENT ON COLUMN meraki.customer_map.network_id IS 'Meraki network id.';
COMMENT ON COLUMN meraki.customer_map.customer_id IS 'The MSP''s customer id (free text, e.g. from its PSA or billing system).';
COMMENT ON COLUMN meraki.customer_map.customer_name IS 'The MSP''s customer name.';
COMMENT ON COLUMN meraki.customer_map.mapped_at IS 'When this mapping was last set.';

-- Episodes of an uplink carrying traffic (status active), from its status history.
CREATE OR REPLACE VIEW meraki.uplink_episodes AS
WITH flagged AS (
    SELECT c.*, c.new_status = 'active' AS is_active,
           lag(c.new_status = 'active') OVER w AS was_active
    FROM meraki.uplink_status_changes c
    WINDOW w AS (PARTITION BY c.serial, c.interface ORDER BY c.observed_at, c.id)
), edges AS (
    SELECT f.*, lead(f.observed_at) OVER w AS next_edge_at
    FROM flagged f
    WHERE f.is_active IS DISTINCT FROM f.was_active
    WINDOW w AS (PARTITION BY f.serial, f.interface ORDER BY f.observed_at, f.id)
)
SELECT e.serial, e.interface, e.organization_id, e.network_id,
       e.observed_at AS started_at, e.next_edge_at AS ended_at
FROM edges e
WHERE e.is_active;
COMMENT ON VIEW meraki.uplink_episodes IS 'Periods during which an uplink carried traffic (status active), built from uplink_status_changes; ended_at is NULL while it still does. Times are when meraki-sync saw the change.';
COMMENT ON COLUMN meraki.uplink_episodes.serial IS 'Device serial number.';
COMMENT ON COLUMN meraki.uplink_episodes.interface IS 'Uplink interface that carried traffic.';
COMMENT ON COLUMN meraki.uplink_episodes.organization_id IS 'Organization of the device.';
COMMENT ON COLUMN meraki.uplink_episodes.network_id IS 'Network of the device when the episode started.';
COMMENT ON COLUMN meraki.uplink_episodes.started_at IS 'When the uplink was first seen active.';
COMMENT ON COLUMN meraki.uplink_episodes.ended_at IS 'When it was first seen no longer active (or vanished); NULL if ongoing.';

CREATE OR REPLACE VIEW meraki.failover_events AS
SELECT e.serial, d.name AS device_name, coalesce(d.model, u.model) AS model,
       e.organization_id, e.network_id, n.name AS network_name,
       e.interface, e.started_at, e.ended_at,
       e.ended_at IS NULL AS ongoing,
       coalesce(e.ended_at, now()) - e.started_at AS duration
FROM meraki.uplink_episodes e
LEFT JOIN meraki.devices d ON d.serial = e.serial
LEFT JOIN meraki.networks n ON n.id = e.network_id
LEFT JOIN meraki.uplink_statuses u ON u.serial = e.serial AND u.interface = e.interface
WHERE e.interface <> CASE
    WHEN coalesce(d.product_type, '') = 'cellularGateway' OR coalesce(d.model, u.model, '') LIKE 'MG%'
    THEN 'cellular' ELSE 'wan1' END;
COMMENT ON VIEW meraki.failover_events IS 'Failover episodes: a backup uplink (cellular, wan2 or wan3 on an MX/Z; anything but cellular on an MG) carrying traffic, from when to when. ongoing = still failed over. With WAN load balancing on, wan2 active beside wan1 also shows here.';
COMMENT ON COLUMN meraki.failover_events.serial IS 'Device serial number.';
COMMENT ON COLUMN meraki.failover_events.device_name IS 'Device name.';
COMMENT ON COLUMN meraki.failover_events.model IS 'Device model.';
COMMENT ON COLUMN meraki.failover_events.organization_id IS 'Organization of the device.';
COMMENT ON COLUMN meraki.failover_events.network_id IS 'Network of the device.';
COMMENT ON COLUMN meraki.failover_events.network_name IS 'Network name.';
COMMENT ON COLUMN meraki.failover_events.interface IS 'The backup uplink that carried traffic.';
COMMENT ON COLUMN meraki.failover_events.started_at IS 'When the failover was first seen.';
COMMENT ON COLUMN meraki.failover_events.ended_at IS 'When traffic was first seen back off the backup uplink; NULL while ongoing.';
COMMENT ON COLUMN meraki.failover_events.ongoing IS 'True while the device is still failed over.';
COMMENT ON COLUMN meraki.failover_events.duration IS 'How long the episode lasted (so far, when ongoing).';

-- Customer views: only networks the MSP mapped to a customer, and only live rows.
CREATE OR REPLACE VIEW meraki.customer_networks AS
SELECT m.customer_id, m.customer_name, n.organization_id, o.name AS organization_name,
       n.id AS network_id, n.name AS network_name, n.product_types, n.time_zone, n.tags,
       (SELECT count(*) FROM meraki.devices d WHERE d.network_id = n.id AND d.removed_at IS NULL) AS device_count
FROM meraki.customer_map m
JOIN meraki.networks n ON n.id = m.network_id AND n.organization_id = m.organization_id
JOIN meraki.organizations o ON o.id = n.organization_id
WHERE n.removed_at IS NULL;
COMMENT ON VIEW meraki.customer_networks IS 'Mapped networks with their customer, product types and live device count.';
COMMENT ON COLUMN meraki.customer_networks.customer_id IS 'The MSP''s customer id.';
COMMENT ON COLUMN meraki.customer_networks.customer_name IS 'The MSP''s customer name.';
COMMENT ON COLUMN meraki.customer_networks.organization_id IS 'Meraki organization id.';
COMMENT ON COLUMN meraki.customer_networks.organization_name IS 'Meraki organization name.';
COMMENT ON COLUMN meraki.customer_networks.network_id IS 'Meraki network id.';
COMMENT ON COLUMN meraki.customer_networks.network_name IS 'Network name.';
COMMENT ON COLUMN meraki.customer_networks.product_types IS 'Product types in the network.';
COMMENT ON COLUMN meraki.customer_networks.time_zone IS 'IANA time zone of the network.';
COMMENT ON COLUMN meraki.customer_networks.tags IS 'Network tags.';
COMMENT ON COLUMN meraki.customer_networks.device_count IS 'Devices in the network now.';

-- meraki.customer_devices and meraki.customer_uplinks are defined in the v3 section (fields
-- MSPs need), with the columns v3 added at their end.

CREATE OR REPLACE VIEW meraki.customer_failover_events AS
SELECT m.customer_id, m.customer_name, f.*
FROM meraki.customer_map m
JOIN meraki.failover_events f ON f.network_id = m.network_id AND f.organization_id = m.organization_id;
COMMENT ON VIEW meraki.customer_failover_events IS 'Failover episodes of mapped networks, with their customer.';
COMMENT ON COLUMN meraki.customer_failover_events.customer_id IS 'The MSP''s customer id.';
COMMENT ON COLUMN meraki.customer_failover_events.customer_name IS 'The MSP''s customer name.';
COMMENT ON COLUMN meraki.customer_failover_events.serial IS 'Device serial number.';
COMMENT ON COLUMN meraki.customer_failover_events.device_name IS 'Device name.';
COMMENT ON COLUMN meraki.customer_failover_events.model IS 'Device model.';
COMMENT ON COLUMN meraki.customer_failover_events.organization_id IS 'Organization of the device.';
COMMENT ON COLUMN meraki.customer_failover_events.network_id IS 'Network of the device.';
COMMENT ON COLUMN meraki.customer_failover_events.network_name IS 'Network name.';
COMMENT ON COLUMN meraki.customer_failover_events.interface IS 'The backup uplink that carried traffic.';
COMMENT ON COLUMN meraki.customer_failover_events.started_at IS 'When the failover was first seen.';
COMMENT ON COLUMN meraki.customer_failover_events.ended_at IS 'When traffic was first seen back off the backup uplink; NULL while ongoing.';
COMMENT ON COLUMN meraki.customer_failover_events.ongoing IS 'True while the device is still failed over.';
COMMENT ON COLUMN meraki.customer_failover_events.duration IS 'How long the episode lasted (so far, when ongoing).';

CREATE OR REPLACE VIEW meraki.customer_uplink_samples AS
SELECT m.customer_id, m.customer_name, s.organization_id, s.network_id, s.serial, s.uplink,
       s.ip, s.ts, s.loss_percent, s.latency_ms
FROM meraki.customer_map m
JOIN meraki.uplink_samples s ON s.network_id = m.network_id AND s.organization_id = m.organization_id;
COMMENT ON VIEW meraki.customer_uplink_samples IS 'Loss and latency samples of mapped networks, with their customer.';
COMMENT ON COLUMN meraki.customer_uplink_samples.customer_id IS 'The MSP''s customer id.';
COMMENT ON COLUMN meraki.customer_uplink_samples.customer_name IS 'The MSP''s customer name.';
COMMENT ON COLUMN meraki.customer_uplink_samples.organization_id IS 'Organization of the device.';
COMMENT ON COLUMN meraki.customer_uplink_samples.network_id IS 'Network of the device.';
COMMENT ON COLUMN meraki.customer_uplink_samples.serial IS 'Device serial number.';
COMMENT ON COLUMN meraki.customer_uplink_samples.uplink IS 'Uplink measured.';
COMMENT ON COLUMN meraki.customer_uplink_samples.ip IS 'Probe destination IP.';
COMMENT ON COLUMN meraki.customer_uplink_samples.ts IS 'Sample time.';
COMMENT ON COLUMN meraki.customer_uplink_samples.loss_percent IS 'Packet loss, percent.';
COMMENT ON COLUMN meraki.customer_uplink_samples.latency_ms IS 'Latency, milliseconds.';



-- ---------------------------------------------------------------------------------------------
-- Version 3: the GA contract of API v1.75 (Secure Access in its GA shape, device availability
-- with Meraki's own transition times, the fields MSPs need), and what hostile answers and
-- operators taught. Columns added to v1/v2 tables are added here with ADD COLUMN IF NOT EXISTS,
-- so a v2 database migrates in place and a fresh one ends up the same.
-- ---------------------------------------------------------------------------------------------

-- v3: Secure Access (SASE) in the GA shape, and site connectivity.
-- A site's GA fields (GET /organizations/{id}/sase/sites, API v1.75). A site is one MX or an
-- HA pair. The listing carries no status any more: status and its times come from the
-- connectivity history (GET .../sase/sites/connectivity/history/bySite).
ALTER TABLE meraki.sase_sites
    ADD COLUMN IF NOT EXISTS primary_device_name  text,
    ADD COLUMN IF NOT EXISTS primary_device_model text,
    ADD COLUMN IF NOT EXISTS spare_device_name    text,
    ADD COLUMN IF NOT EXISTS spare_device_model   text,
    ADD COLUMN IF NOT EXISTS subnets              text[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS url                  text,
    ADD COLUMN IF NOT EXISTS address              text,
    ADD COLUMN IF NOT EXISTS status_since         timestamptz,
    ADD COLUMN IF NOT EXISTS status_checked_at    timestamptz;
-- Rows stored by v2 (beta shape) keep what they had: their device list and subnets are
-- carried into the GA columns once (the guards make this a no-op on later runs).
UPDATE meraki.sase_sites
SET primary_device_name = devices -> 0 ->> 'name',
    primary_device_model = devices -> 0 ->> 'model',
    spare_device_name = devices -> 1 ->> 'name',
    spare_device_model = devices -> 1 ->> 'model'
WHERE primary_device_name IS NULL AND primary_device_model IS NULL
  AND jsonb_typeof(devices) = 'array'
  AND (devices -> 0 ->> 'name' IS NOT NULL OR devices -> 0 ->> 'model' IS NOT NULL);
UPDATE meraki.sase_sites SET subnets = local_subnets
WHERE subnets = '{}' AND local_subnets <> '{}';
COMMENT ON TABLE meraki.sase_sites IS 'Cisco Secure Access (SASE) sites (one MX or an HA pair each), from GET /organizations/{id}/sase/sites; status columns from GET /organizations/{id}/sase/sites/connectivity/history/bySite.';
COMMENT ON COLUMN meraki.sase_sites.model IS 'Model of the site''s appliance (sase/sites model).';
COMMENT ON COLUMN meraki.sase_sites.status IS 'Current site status, the latest entry of the site''s connectivity history (sase/sites/connectivity/history/bySite): good, bad tunnel, bad NAT, many bad tunnels, dormant, offline or no registry. Rows stored before schema v3 hold the status the beta sites listing carried until their first connectivity check (status_checked_at NULL).';
COMMENT ON COLUMN meraki.sase_sites.devices IS 'Legacy (schema v2, beta shape), kept for existing readers: the site''s devices as a JSON array of {name, model}, now written from devices.primary and devices.spare of sase/sites. Use the primary_device_* and spare_device_* columns; this column may be dropped in a later schema version.';
COMMENT ON COLUMN meraki.sase_sites.local_subnets IS 'Legacy (schema v2, beta localNetworks), kept for existing readers: now written equal to subnets. Use subnets; this column may be dropped in a later schema version.';
COMMENT ON COLUMN meraki.sase_sites.primary_device_name IS 'Name of the primary MX of the site (sase/sites devices.primary.name).';
COMMENT ON COLUMN meraki.sase_sites.primary_device_model IS 'Model of the primary MX (sase/sites devices.primary.model).';
COMMENT ON COLUMN meraki.sase_sites.spare_device_name IS 'Name of the spare MX of an HA pair (sase/sites devices.spare.name); NULL for a single MX.';
COMMENT ON COLUMN meraki.sase_sites.spare_device_model IS 'Model of the spare MX of an HA pair (sase/sites devices.spare.model); NULL for a single MX.';
COMMENT ON COLUMN meraki.sase_sites.subnets IS 'Subnets the site connects to Secure Access (sase/sites subnets[].subnet).';
COMMENT ON COLUMN meraki.sase_sites.url IS 'Dashboard URL of the site''s network (sase/sites url).';
COMMENT ON COLUMN meraki.sase_sites.address IS 'Street address of the site (sase/sites address.street).';
COMMENT ON COLUMN meraki.sase_sites.status_since IS 'When the current status began: the first entry of the latest run of equal statuses in meraki.sase_site_status_history (sase/sites/connectivity/history/bySite).';
COMMENT ON COLUMN meraki.sase_sites.status_checked_at IS 'When meraki-sync last fetched the site''s connectivity history (sase/sites/connectivity/history/bySite); the next fetch covers the time since. NULL: never fetched.';
COMMENT ON COLUMN meraki.sase_regions.connector_id IS 'Id of the region''s connector (sase/regions connector.id).';
COMMENT ON COLUMN meraki.sase_regions.type IS 'Connector type (sase/regions type), e.g. Cloud Native Head End.';

CREATE TABLE IF NOT EXISTS meraki.sase_site_status_history (
    site_id         text        NOT NULL,
    role            text        NOT NULL CHECK (role IN ('site', 'primary', 'spare')),
    ts              timestamptz NOT NULL,
    organization_id text        NOT NULL REFERENCES meraki.organizations (id),
    device_id       text,
    status          text        NOT NULL,
    first_seen_at   timestamptz NOT NULL,
    PRIMARY KEY (site_id, role, ts)
);
CREATE INDEX IF NOT EXISTS sase_site_status_history_ts_idx ON meraki.sase_site_status_history (ts);
COMMENT ON TABLE meraki.sase_site_status_history IS 'Connectivity history of Secure Access sites and of their devices, one row per entry of GET /organizations/{id}/sase/sites/connectivity/history/bySite; entries fetched again are deduplicated on (site_id, role, ts).';
COMMENT ON COLUMN meraki.sase_site_status_history.site_id IS 'Secure Access site id (bySite siteId), as in meraki.sase_sites.';
COMMENT ON COLUMN meraki.sase_site_status_history.role IS 'Whose history: site (the site as a whole, bySite history), primary (devices.primary.history) or spare (devices.spare.history, HA pairs only).';
COMMENT ON COLUMN meraki.sase_site_status_history.ts IS 'When the status was reported (bySite history[].timestamp).';
COMMENT ON COLUMN meraki.sase_site_status_history.organization_id IS 'Organization of the site.';
COMMENT ON COLUMN meraki.sase_site_status_history.device_id IS 'Secure Access id of the device (bySite devices.primary.id / devices.spare.id); NULL for role site.';
COMMENT ON COLUMN meraki.sase_site_status_history.status IS 'Status from then on (bySite history[].status): good, bad tunnel, bad NAT, many bad tunnels, dormant, offline or no registry.';
COMMENT ON COLUMN meraki.sase_site_status_history.first_seen_at IS 'When meraki-sync first stored the entry.';

CREATE TABLE IF NOT EXISTS meraki.sase_connectivity_overviews (
    organization_id text        PRIMARY KEY REFERENCES meraki.organizations (id),
    healthy         integer,
    degraded        integer,
    offline         integer,
    total           integer,
    checked_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
COMMENT ON TABLE meraki.sase_connectivity_overviews IS 'Secure Access sites per high-level status, one row per organization, from GET /organizations/{id}/sase/sites/connectivity/overview.';
COMMENT ON COLUMN meraki.sase_connectivity_overviews.organization_id IS 'Organization.';
COMMENT ON COLUMN meraki.sase_connectivity_overviews.healthy IS 'Sites counted healthy (overview counts.byStatus.healthy.total).';
COMMENT ON COLUMN meraki.sase_connectivity_overviews.degraded IS 'Sites counted degraded (overview counts.byStatus.degraded.total).';
COMMENT ON COLUMN meraki.sase_connectivity_overviews.offline IS 'Sites counted offline (overview counts.byStatus.offline.total).';
COMMENT ON COLUMN meraki.sase_connectivity_overviews.total IS 'All sites (overview counts.total).';
COMMENT ON COLUMN meraki.sase_connectivity_overviews.checked_at IS 'When the overview was last fetched.';
COMMENT ON COLUMN meraki.sase_connectivity_overviews.updated_at IS 'When any count last changed.';

-- The v2 columns stay first, in their order, so CREATE OR REPLACE extends the v2 view in place
-- (no DROP ... CASCADE taking readers' own dependent views with it); the GA columns follow.
CREATE OR REPLACE VIEW meraki.customer_sase_sites AS
SELECT m.customer_id, m.customer_name, s.organization_id, s.network_id, n.name AS network_name,
       s.site_id, s.name, s.model, s.region, s.status, s.vpn_type, s.default_route, s.local_subnets,
       s.status_since, s.status_checked_at, s.type, s.primary_device_name, s.primary_device_model,
       s.spare_device_name, s.spare_device_model, s.subnets, s.address, s.url
FROM meraki.customer_map m
JOIN meraki.sase_sites s ON s.network_id = m.network_id AND s.organization_id = m.organization_id
JOIN meraki.networks n ON n.id = s.network_id
WHERE s.removed_at IS NULL;
COMMENT ON VIEW meraki.customer_sase_sites IS 'Secure Access sites of mapped networks, with their customer and current connectivity status.';
COMMENT ON COLUMN meraki.customer_sase_sites.customer_id IS 'The MSP''s customer id.';
COMMENT ON COLUMN meraki.customer_sase_sites.customer_name IS 'The MSP''s customer name.';
COMMENT ON COLUMN meraki.customer_sase_sites.organization_id IS 'Organization of the site.';
COMMENT ON COLUMN meraki.customer_sase_sites.network_id IS 'Network the site is attached to.';
COMMENT ON COLUMN meraki.customer_sase_sites.network_name IS 'Network name.';
COMMENT ON COLUMN meraki.customer_sase_sites.site_id IS 'Secure Access site id.';
COMMENT ON COLUMN meraki.customer_sase_sites.name IS 'Site name.';
COMMENT ON COLUMN meraki.customer_sase_sites.model IS 'Model of the site''s appliance.';
COMMENT ON COLUMN meraki.customer_sase_sites.region IS 'Secure Access region slug.';
COMMENT ON COLUMN meraki.customer_sase_sites.status IS 'Current site status, from the connectivity history.';
COMMENT ON COLUMN meraki.customer_sase_sites.vpn_type IS 'spoke or hub.';
COMMENT ON COLUMN meraki.customer_sase_sites.default_route IS 'True when the default route goes through Secure Access.';
COMMENT ON COLUMN meraki.customer_sase_sites.local_subnets IS 'Legacy: equal to subnets.';
COMMENT ON COLUMN meraki.customer_sase_sites.status_since IS 'When the current status began.';
COMMENT ON COLUMN meraki.customer_sase_sites.status_checked_at IS 'When the connectivity history was last fetched.';
COMMENT ON COLUMN meraki.customer_sase_sites.type IS 'Site type, e.g. Meraki spoke.';
COMMENT ON COLUMN meraki.customer_sase_sites.primary_device_name IS 'Name of the primary MX.';
COMMENT ON COLUMN meraki.customer_sase_sites.primary_device_model IS 'Model of the primary MX.';
COMMENT ON COLUMN meraki.customer_sase_sites.spare_device_name IS 'Name of the spare MX of an HA pair.';
COMMENT ON COLUMN meraki.customer_sase_sites.spare_device_model IS 'Model of the spare MX of an HA pair.';
COMMENT ON COLUMN meraki.customer_sase_sites.subnets IS 'Subnets the site connects to Secure Access.';
COMMENT ON COLUMN meraki.customer_sase_sites.address IS 'Street address of the site.';
COMMENT ON COLUMN meraki.customer_sase_sites.url IS 'Dashboard URL of the site''s network.';

CREATE OR REPLACE VIEW meraki.customer_sase_site_history AS
SELECT m.customer_id, m.customer_name, s.organization_id, s.network_id, n.name AS network_name,
       h.site_id, s.name AS site_name, h.role, h.device_id, h.ts, h.status
FROM meraki.customer_map m
JOIN meraki.sase_sites s ON s.network_id = m.network_id AND s.organization_id = m.organization_id
JOIN meraki.networks n ON n.id = s.network_id
JOIN meraki.sase_site_status_history h ON h.site_id = s.site_id;
COMMENT ON VIEW meraki.customer_sase_site_history IS 'Connectivity history of the Secure Access sites of mapped networks (and of their devices), with their customer.';
COMMENT ON COLUMN meraki.customer_sase_site_history.customer_id IS 'The MSP''s customer id.';
COMMENT ON COLUMN meraki.customer_sase_site_history.customer_name IS 'The MSP''s customer name.';
COMMENT ON COLUMN meraki.customer_sase_site_history.organization_id IS 'Organization of the site.';
COMMENT ON COLUMN meraki.customer_sase_site_history.network_id IS 'Network the site is attached to.';
COMMENT ON COLUMN meraki.customer_sase_site_history.network_name IS 'Network name.';
COMMENT ON COLUMN meraki.customer_sase_site_history.site_id IS 'Secure Access site id.';
COMMENT ON COLUMN meraki.customer_sase_site_history.site_name IS 'Site name.';
COMMENT ON COLUMN meraki.customer_sase_site_history.role IS 'site, primary or spare.';
COMMENT ON COLUMN meraki.customer_sase_site_history.device_id IS 'Secure Access id of the device; NULL for role site.';
COMMENT ON COLUMN meraki.customer_sase_site_history.ts IS 'When the status was reported.';
COMMENT ON COLUMN meraki.customer_sase_site_history.status IS 'Status from then on.';


-- v3: device availability and its change history.
-- Status now comes from GET /organizations/{id}/devices/availabilities and its transitions,
-- with Meraki's own times, from .../availabilities/changeHistory; the deprecated
-- devices/statuses keeps only what no GA feed gives. Transitions of v2 (seen by comparing two
-- polls, stamped with our observation time) are kept and marked `polled`.
ALTER TABLE meraki.device_status_changes ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'polled';
ALTER TABLE meraki.device_status_changes ALTER COLUMN source DROP DEFAULT;
ALTER TABLE meraki.device_status_changes ADD COLUMN IF NOT EXISTS ts timestamptz;
-- Added once: re-adding it at every migrate would re-check the whole history each time.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conname = 'device_status_changes_source_check'
          AND conrelid = 'meraki.device_status_changes'::regclass
    ) THEN
        ALTER TABLE meraki.device_status_changes ADD CONSTRAINT device_status_changes_source_check
            CHECK (source IN ('polled', 'changeHistory') AND (source = 'polled' OR ts IS NOT NULL));
    END IF;
END
$$;
-- The natural key of a Meraki transition; polled rows have no ts and never collide.
CREATE UNIQUE INDEX IF NOT EXISTS device_status_changes_transition_key
    ON meraki.device_status_changes (serial, ts, old_status, new_status);
CREATE INDEX IF NOT EXISTS device_status_changes_ts_idx ON meraki.device_status_changes (ts);
COMMENT ON TABLE meraki.device_status_changes IS 'One row per device status transition. Since schema v3 (source changeHistory): every transition Meraki lists in GET /organizations/{id}/devices/availabilities/changeHistory, at Meraki''s own time ts, once each (key serial, ts, old_status, new_status), gapless since meraki.device_availability_watermarks.covered_from. Before (source polled): transitions seen between two polls of the statuses endpoint, at observed_at.';
COMMENT ON COLUMN meraki.device_status_changes.id IS 'Row id, increasing in the order transitions were recorded (not in the order they happened: order by ts).';
COMMENT ON COLUMN meraki.device_status_changes.network_id IS 'Network of the device at the time (changeHistory network.id).';
COMMENT ON COLUMN meraki.device_status_changes.observed_at IS 'When meraki-sync recorded the transition: for polled rows the sync that saw the new status (the transition happened since the previous sync); for changeHistory rows the fetch time.';
COMMENT ON COLUMN meraki.device_status_changes.last_reported_at IS 'Polled rows only: the device''s lastReportedAt when the new status was seen; NULL for changeHistory rows.';
COMMENT ON COLUMN meraki.device_status_changes.source IS 'changeHistory: listed by Meraki with its time ts; polled: inferred by schema v2 from two polls of devices/statuses, time known only as observed_at.';
COMMENT ON COLUMN meraki.device_status_changes.ts IS 'When the transition happened, as Meraki reports it (changeHistory rows); NULL for polled rows.';

CREATE TABLE IF NOT EXISTS meraki.device_availability_watermarks (
    organization_id text        PRIMARY KEY,
    covered_from    timestamptz NOT NULL,
    covered_until   timestamptz NOT NULL,
    fetched_at      timestamptz NOT NULL,
    changes         integer     NOT NULL
);
COMMENT ON TABLE meraki.device_availability_watermarks IS 'The change-history watermark: per organization, the time range whose status transitions are all in meraki.device_status_changes, advanced in the same transaction as the rows it covers, never past what was fully fetched. After any outage the next run fetches from covered_until (less a small overlap) up to Meraki''s 31-day lookback.';
COMMENT ON COLUMN meraki.device_availability_watermarks.organization_id IS 'Organization.';
COMMENT ON COLUMN meraki.device_availability_watermarks.covered_from IS 'Start of the gapless range: the first fetch, or the oldest time Meraki still had after an outage longer than its 31 days.';
COMMENT ON COLUMN meraki.device_availability_watermarks.covered_until IS 'End of the gapless range (exclusive): every transition before it is stored.';
COMMENT ON COLUMN meraki.device_availability_watermarks.fetched_at IS 'When the range was last advanced.';
COMMENT ON COLUMN meraki.device_availability_watermarks.changes IS 'Transitions listed by the fetch that last advanced the range (an empty answer means no device changed).';

CREATE TABLE IF NOT EXISTS meraki.device_power_supplies (
    serial          text        NOT NULL,
    slot            integer     NOT NULL,
    organization_id text        NOT NULL,
    module_serial   text,
    model           text,
    status          text,
    poe_unit        text,
    poe_maximum     integer,
    first_seen_at   timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    removed_at      timestamptz,
    PRIMARY KEY (serial, slot)
);
CREATE INDEX IF NOT EXISTS device_power_supplies_organization_id_idx ON meraki.device_power_supplies (organization_id);
COMMENT ON TABLE meraki.device_power_supplies IS 'Power supplies of devices that report them (rackmount MS and MX), from components.powerSupplies of GET /organizations/{id}/devices/statuses (dataset device_statuses): the only hardware health in the synced feeds.';
COMMENT ON COLUMN meraki.device_power_supplies.serial IS 'Serial of the device the supply is in.';
COMMENT ON COLUMN meraki.device_power_supplies.slot IS 'Slot number of the supply in the device.';
COMMENT ON COLUMN meraki.device_power_supplies.organization_id IS 'Organization of the device.';
COMMENT ON COLUMN meraki.device_power_supplies.module_serial IS 'Serial number of the power supply itself.';
COMMENT ON COLUMN meraki.device_power_supplies.model IS 'Power supply model, e.g. PWR-MS320-1025WAC.';
COMMENT ON COLUMN meraki.device_power_supplies.status IS 'Power supply status as Meraki reports it, e.g. powering.';
COMMENT ON COLUMN meraki.device_power_supplies.poe_unit IS 'Unit of poe_maximum (watts).';
COMMENT ON COLUMN meraki.device_power_supplies.poe_maximum IS 'PoE budget the supply provides, in poe_unit.';
COMMENT ON COLUMN meraki.device_power_supplies.first_seen_at IS 'When meraki-sync first saw the supply in this slot.';
COMMENT ON COLUMN meraki.device_power_supplies.last_seen_at IS 'When the supply was last listed.';
COMMENT ON COLUMN meraki.device_power_supplies.updated_at IS 'When any synced column of this row last changed.';
COMMENT ON COLUMN meraki.device_power_supplies.removed_at IS 'When the device was listed without this slot (supply pulled); NULL while listed.';

-- Every column of meraki.devices has one source dataset, named here.
ALTER TABLE meraki.devices ADD COLUMN IF NOT EXISTS reported_checked_at timestamptz;
COMMENT ON TABLE meraki.devices IS 'Meraki devices (MX, MS, MR, MV, MT, MG, …). Each column has one source dataset, named in its comment: devices (GET /organizations/{id}/devices, the inventory), device_availabilities (GET /organizations/{id}/devices/availabilities: status) or device_statuses (GET /organizations/{id}/devices/statuses: last report, public IP, gateway, DNS). A device listed by availabilities or statuses before the inventory is created with the identity fields they carry, which the inventory then owns.';
COMMENT ON COLUMN meraki.devices.serial IS 'Device serial number (Meraki''s natural key). Source: devices.';
COMMENT ON COLUMN meraki.devices.organization_id IS 'Organization the device belongs to. Source: devices.';
COMMENT ON COLUMN meraki.devices.network_id IS 'Network the device is in; NULL when unassigned. Source: devices.';
COMMENT ON COLUMN meraki.devices.name IS 'Device name in the Dashboard. Source: devices.';
COMMENT ON COLUMN meraki.devices.model IS 'Hardware model, e.g. MX68, MS250-48FP, MR46, MV22, MT14, MG21. Source: devices.';
COMMENT ON COLUMN meraki.devices.mac IS 'MAC address. Source: devices.';
COMMENT ON COLUMN meraki.devices.product_type IS 'Product type: appliance, switch, wireless, camera, sensor, cellularGateway, … Source: devices.';
COMMENT ON COLUMN meraki.devices.firmware IS 'Firmware version string. Source: devices.';
COMMENT ON COLUMN meraki.devices.lan_ip IS 'LAN IP address. Source: devices (the statuses endpoint no longer writes it).';
COMMENT ON COLUMN meraki.devices.tags IS 'Device tags. Source: devices.';
COMMENT ON COLUMN meraki.devices.lat IS 'Latitude set in the Dashboard. Source: devices.';
COMMENT ON COLUMN meraki.devices.lng IS 'Longitude set in the Dashboard. Source: devices.';
COMMENT ON COLUMN meraki.devices.address IS 'Street address set in the Dashboard. Source: devices.';
COMMENT ON COLUMN meraki.devices.notes IS 'Free-text notes on the device. Source: devices.';
COMMENT ON COLUMN meraki.devices.status IS 'Current status: online, alerting, offline or dormant (Meraki refreshes it every 5 minutes). Source: device_availabilities; its transitions are in meraki.device_status_changes.';
COMMENT ON COLUMN meraki.devices.last_reported_at IS 'When the device last reported to the Meraki cloud. Source: device_statuses.';
COMMENT ON COLUMN meraki.devices.public_ip IS 'Public IP the device reaches the cloud from. Source: device_statuses.';
COMMENT ON COLUMN meraki.devices.gateway IS 'Default gateway of the device. Source: device_statuses.';
COMMENT ON COLUMN meraki.devices.ip_type IS 'How the LAN IP is assigned (dhcp, static). Source: device_statuses.';
COMMENT ON COLUMN meraki.devices.primary_dns IS 'Primary DNS server. Source: device_statuses.';
COMMENT ON COLUMN meraki.devices.secondary_dns IS 'Secondary DNS server. Source: device_statuses.';
COMMENT ON COLUMN meraki.devices.status_checked_at IS 'When status was last refreshed. Source: device_availabilities.';
COMMENT ON COLUMN meraki.devices.reported_checked_at IS 'When last_reported_at, public_ip, gateway, ip_type and the DNS servers were last refreshed. Source: device_statuses.';
COMMENT ON COLUMN meraki.devices.first_seen_at IS 'When meraki-sync first saw the device (whichever dataset listed it first).';
COMMENT ON COLUMN meraki.devices.last_seen_at IS 'When the device was last listed by the inventory. Source: devices (set once by whichever dataset created the row).';
COMMENT ON COLUMN meraki.devices.updated_at IS 'When any synced column of this row last changed, whichever dataset changed it.';
COMMENT ON COLUMN meraki.devices.removed_at IS 'When the device left the organization''s inventory (soft delete); NULL while it is listed. Source: devices.';


-- v3: fields MSPs need (organizations, devices, cellular uplinks).
-- Organizations' management.details, devices' imei and details, and the SIM fields of cellular
-- uplinks (imsi, msisdn, mtu; their DNS, sent as dns1/dns2, lands in primary_dns/secondary_dns).

ALTER TABLE meraki.devices ADD COLUMN IF NOT EXISTS imei text;
COMMENT ON COLUMN meraki.devices.imei IS 'IMEI of the device''s cellular modem, from GET /organizations/{id}/devices field imei; NULL for devices without one.';

ALTER TABLE meraki.uplink_statuses ADD COLUMN IF NOT EXISTS imsi text;
ALTER TABLE meraki.uplink_statuses ADD COLUMN IF NOT EXISTS msisdn text;
ALTER TABLE meraki.uplink_statuses ADD COLUMN IF NOT EXISTS mtu integer;
COMMENT ON COLUMN meraki.uplink_statuses.imsi IS 'Cellular: the SIM''s IMSI, from GET /organizations/{id}/uplinks/statuses field uplinks[].imsi.';
COMMENT ON COLUMN meraki.uplink_statuses.msisdn IS 'Cellular: the SIM''s phone number (MSISDN), from GET /organizations/{id}/uplinks/statuses field uplinks[].msisdn.';
COMMENT ON COLUMN meraki.uplink_statuses.mtu IS 'Cellular: MTU of the uplink in bytes, from GET /organizations/{id}/uplinks/statuses field uplinks[].mtu.';
COMMENT ON COLUMN meraki.uplink_statuses.primary_dns IS 'Primary DNS server of the uplink (GET /organizations/{id}/uplinks/statuses: uplinks[].primaryDns of a wan interface, uplinks[].dns1 of cellular).';
COMMENT ON COLUMN meraki.uplink_statuses.secondary_dns IS 'Secondary DNS server of the uplink (GET /organizations/{id}/uplinks/statuses: uplinks[].secondaryDns of a wan interface, uplinks[].dns2 of cellular).';

CREATE TABLE IF NOT EXISTS meraki.organization_management_details (
    organization_id text        NOT NULL REFERENCES meraki.organizations (id),
    name            text        NOT NULL,
    value           text,
    position        integer     NOT NULL,
    first_seen_at   timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, name)
);
COMMENT ON TABLE meraki.organization_management_details IS 'Management details of each organization (e.g. MSP ID, or the MSP''s own customer id), from GET /organizations field management.details: replaced by what each organizations run lists; an organization no longer listed keeps its last details.';
COMMENT ON COLUMN meraki.organization_management_details.organization_id IS 'Organization (GET /organizations field id).';
COMMENT ON COLUMN meraki.organization_management_details.name IS 'Name of the detail (management.details[].name), e.g. MSP ID or customer_id.';
COMMENT ON COLUMN meraki.organization_management_details.value IS 'Value of the detail (management.details[].value).';
COMMENT ON COLUMN meraki.organization_management_details.position IS 'Position of the detail in management.details, from 1.';
COMMENT ON COLUMN meraki.organization_management_details.first_seen_at IS 'When meraki-sync first saw this detail.';
COMMENT ON COLUMN meraki.organization_management_details.updated_at IS 'When its value or position last changed.';

CREATE TABLE IF NOT EXISTS meraki.device_details (
    serial          text        NOT NULL REFERENCES meraki.devices (serial),
    name            text        NOT NULL,
    organization_id text        NOT NULL,
    value           text,
    position        integer     NOT NULL,
    first_seen_at   timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (serial, name)
);
CREATE INDEX IF NOT EXISTS device_details_organization_id_idx ON meraki.device_details (organization_id);
COMMENT ON TABLE meraki.device_details IS 'Extra details of each device (e.g. the Catalyst serial of Catalyst hardware), from GET /organizations/{id}/devices field details: replaced by what each devices run lists; a device no longer listed keeps its last details.';
COMMENT ON COLUMN meraki.device_details.serial IS 'Device serial number (GET /organizations/{id}/devices field serial).';
COMMENT ON COLUMN meraki.device_details.name IS 'Name of the detail (details[].name), e.g. Catalyst serial.';
COMMENT ON COLUMN meraki.device_details.organization_id IS 'Organization whose listing carried the detail.';
COMMENT ON COLUMN meraki.device_details.value IS 'Value of the detail (details[].value).';
COMMENT ON COLUMN meraki.device_details.position IS 'Position of the detail in details, from 1.';
COMMENT ON COLUMN meraki.device_details.first_seen_at IS 'When meraki-sync first saw this detail.';
COMMENT ON COLUMN meraki.device_details.updated_at IS 'When its value or position last changed.';

CREATE OR REPLACE VIEW meraki.customer_devices AS
SELECT m.customer_id, m.customer_name, d.organization_id, d.network_id, n.name AS network_name,
       d.serial, d.name, d.model, d.product_type, d.mac, d.firmware, d.status,
       d.last_reported_at, d.public_ip, d.lan_ip, d.imei
FROM meraki.customer_map m
JOIN meraki.devices d ON d.network_id = m.network_id AND d.organization_id = m.organization_id
JOIN meraki.networks n ON n.id = d.network_id
WHERE d.removed_at IS NULL;
COMMENT ON VIEW meraki.customer_devices IS 'Live devices of mapped networks, with their customer.';
COMMENT ON COLUMN meraki.customer_devices.customer_id IS 'The MSP''s customer id.';
COMMENT ON COLUMN meraki.customer_devices.customer_name IS 'The MSP''s customer name.';
COMMENT ON COLUMN meraki.customer_devices.organization_id IS 'Meraki organization id.';
COMMENT ON COLUMN meraki.customer_devices.network_id IS 'Meraki network id.';
COMMENT ON COLUMN meraki.customer_devices.network_name IS 'Network name.';
COMMENT ON COLUMN meraki.customer_devices.serial IS 'Device serial number.';
COMMENT ON COLUMN meraki.customer_devices.name IS 'Device name.';
COMMENT ON COLUMN meraki.customer_devices.model IS 'Device model.';
COMMENT ON COLUMN meraki.customer_devices.product_type IS 'Product type.';
COMMENT ON COLUMN meraki.customer_devices.mac IS 'MAC address.';
COMMENT ON COLUMN meraki.customer_devices.firmware IS 'Firmware version.';
COMMENT ON COLUMN meraki.customer_devices.status IS 'online, alerting, offline or dormant.';
COMMENT ON COLUMN meraki.customer_devices.last_reported_at IS 'When the device last reported to the Meraki cloud.';
COMMENT ON COLUMN meraki.customer_devices.public_ip IS 'Public IP of the device.';
COMMENT ON COLUMN meraki.customer_devices.lan_ip IS 'LAN IP of the device.';
COMMENT ON COLUMN meraki.customer_devices.imei IS 'IMEI of the device''s cellular modem (GET /organizations/{id}/devices field imei); NULL without one.';

CREATE OR REPLACE VIEW meraki.customer_uplinks AS
SELECT m.customer_id, m.customer_name, u.organization_id, u.network_id, n.name AS network_name,
       u.serial, u.model, u.interface, u.status, u.status_since, u.ip, u.public_ip,
       u.provider, u.signal_type, u.rsrp, u.rsrq, u.roaming, u.last_reported_at,
       u.iccid, u.apn, u.msisdn
FROM meraki.customer_map m
JOIN meraki.uplink_statuses u ON u.network_id = m.network_id AND u.organization_id = m.organization_id
JOIN meraki.networks n ON n.id = u.network_id
WHERE u.removed_at IS NULL;
COMMENT ON VIEW meraki.customer_uplinks IS 'Current uplink statuses of mapped networks, with their customer.';
COMMENT ON COLUMN meraki.customer_uplinks.customer_id IS 'The MSP''s customer id.';
COMMENT ON COLUMN meraki.customer_uplinks.customer_name IS 'The MSP''s customer name.';
COMMENT ON COLUMN meraki.customer_uplinks.organization_id IS 'Meraki organization id.';
COMMENT ON COLUMN meraki.customer_uplinks.network_id IS 'Meraki network id.';
COMMENT ON COLUMN meraki.customer_uplinks.network_name IS 'Network name.';
COMMENT ON COLUMN meraki.customer_uplinks.serial IS 'Device serial number.';
COMMENT ON COLUMN meraki.customer_uplinks.model IS 'Device model.';
COMMENT ON COLUMN meraki.customer_uplinks.interface IS 'wan1, wan2, wan3 or cellular.';
COMMENT ON COLUMN meraki.customer_uplinks.status IS 'active, ready, connecting, not connected or failed.';
COMMENT ON COLUMN meraki.customer_uplinks.status_since IS 'When the current status was first seen.';
COMMENT ON COLUMN meraki.customer_uplinks.ip IS 'Uplink IP.';
COMMENT ON COLUMN meraki.customer_uplinks.public_ip IS 'Public IP of the uplink.';
COMMENT ON COLUMN meraki.customer_uplinks.provider IS 'Cellular carrier.';
COMMENT ON COLUMN meraki.customer_uplinks.signal_type IS 'Cellular signal type.';
COMMENT ON COLUMN meraki.customer_uplinks.rsrp IS 'Cellular RSRP, dBm.';
COMMENT ON COLUMN meraki.customer_uplinks.rsrq IS 'Cellular RSRQ, dB.';
COMMENT ON COLUMN meraki.customer_uplinks.roaming IS 'True while the SIM is roaming.';
COMMENT ON COLUMN meraki.customer_uplinks.last_reported_at IS 'When the device last reported its uplinks.';
COMMENT ON COLUMN meraki.customer_uplinks.iccid IS 'Cellular: SIM card ICCID (uplinks/statuses field uplinks[].iccid).';
COMMENT ON COLUMN meraki.customer_uplinks.apn IS 'Cellular: access point name (uplinks/statuses field uplinks[].apn).';
COMMENT ON COLUMN meraki.customer_uplinks.msisdn IS 'Cellular: the SIM''s phone number, MSISDN (uplinks/statuses field uplinks[].msisdn).';

CREATE OR REPLACE VIEW meraki.customer_organizations AS
SELECT o.id AS organization_id, o.name AS organization_name, o.url, o.licensing_model,
       o.cloud_region,
       (SELECT d.value FROM meraki.organization_management_details d
        WHERE d.organization_id = o.id AND lower(d.name) IN ('customer_id', 'customer id')
        ORDER BY d.position LIMIT 1) AS management_customer_id,
       (SELECT d.value FROM meraki.organization_management_details d
        WHERE d.organization_id = o.id AND d.name = 'MSP ID'
        ORDER BY d.position LIMIT 1) AS msp_id,
       coalesce((SELECT array_agg(DISTINCT m.customer_id ORDER BY m.customer_id)
                 FROM meraki.customer_map m WHERE m.organization_id = o.id), '{}') AS mapped_customer_ids
FROM meraki.organizations o
WHERE o.removed_at IS NULL;
COMMENT ON VIEW meraki.customer_organizations IS 'Every listed organization with the customer id the MSP keeps in its management details (GET /organizations field management.details, the detail named customer_id or Customer ID) and the customers its networks are mapped to, so a customer tool can match organizations to customers.';
COMMENT ON COLUMN meraki.customer_organizations.organization_id IS 'Meraki organization id.';
COMMENT ON COLUMN meraki.customer_organizations.organization_name IS 'Meraki organization name.';
COMMENT ON COLUMN meraki.customer_organizations.url IS 'Dashboard URL of the organization overview.';
COMMENT ON COLUMN meraki.customer_organizations.licensing_model IS 'Licensing model (co-term, per-device, subscription).';
COMMENT ON COLUMN meraki.customer_organizations.cloud_region IS 'Meraki cloud region hosting the organization.';
COMMENT ON COLUMN meraki.customer_organizations.management_customer_id IS 'Value of the management detail named customer_id (or Customer ID, any case); NULL when the organization has none.';
COMMENT ON COLUMN meraki.customer_organizations.msp_id IS 'Value of the management detail MSP ID; NULL when the organization has none.';
COMMENT ON COLUMN meraki.customer_organizations.mapped_customer_ids IS 'Customer ids of meraki.customer_map for the organization''s networks; empty when none is mapped.';


-- v3: run outcomes and the listing guard.

CREATE TABLE IF NOT EXISTS meraki.listing_guard (
    dataset          text        NOT NULL,
    scope            text        NOT NULL,
    applied_rows     integer     NOT NULL,
    applied_at       timestamptz NOT NULL,
    held_rows        integer,
    held_fingerprint text,
    held_times       integer     NOT NULL DEFAULT 0,
    held_since       timestamptz,
    PRIMARY KEY (dataset, scope)
);
COMMENT ON TABLE meraki.listing_guard IS 'Listing guard: per (dataset, scope) the size of the last listing whose soft delete was applied, and the shrunken listing held back, if any. A listing that is empty or shrank by more than sync.max_listing_shrink_share is merged without soft-deleting until it is seen sync.listing_confirmations times in a row or accepted with --accept-shrink.';
COMMENT ON COLUMN meraki.listing_guard.dataset IS 'Dataset of the listing: organizations, networks, devices, uplink_statuses, sase_sites, sase_regions.';
COMMENT ON COLUMN meraki.listing_guard.scope IS 'Organization id of the listing; empty for the organizations listing.';
COMMENT ON COLUMN meraki.listing_guard.applied_rows IS 'Rows of the last listing whose soft delete was applied.';
COMMENT ON COLUMN meraki.listing_guard.applied_at IS 'When that listing was applied.';
COMMENT ON COLUMN meraki.listing_guard.held_rows IS 'Rows of the shrunken listing held back; NULL when none is held.';
COMMENT ON COLUMN meraki.listing_guard.held_fingerprint IS 'Digest of the held listing''s ids, to tell the same listing seen again from another one.';
COMMENT ON COLUMN meraki.listing_guard.held_times IS 'Times in a row the held listing was seen; 0 when none is held.';
COMMENT ON COLUMN meraki.listing_guard.held_since IS 'When the held listing was first seen; NULL when none is held.';
-- An upgraded database is guarded from its first run: seed the sizes from what is live now
-- (only for scopes the guard has not seen, so this stays idempotent).
INSERT INTO meraki.listing_guard (dataset, scope, applied_rows, applied_at)
SELECT 'organizations', '', count(*), now() FROM meraki.organizations WHERE removed_at IS NULL
HAVING count(*) > 0
ON CONFLICT (dataset, scope) DO NOTHING;
INSERT INTO meraki.listing_guard (dataset, scope, applied_rows, applied_at)
SELECT 'networks', organization_id, count(*), now() FROM meraki.networks WHERE removed_at IS NULL
GROUP BY organization_id
ON CONFLICT (dataset, scope) DO NOTHING;
INSERT INTO meraki.listing_guard (dataset, scope, applied_rows, applied_at)
SELECT 'devices', organization_id, count(*), now() FROM meraki.devices WHERE removed_at IS NULL
GROUP BY organization_id
ON CONFLICT (dataset, scope) DO NOTHING;
INSERT INTO meraki.listing_guard (dataset, scope, applied_rows, applied_at)
SELECT 'uplink_statuses', organization_id, count(*), now() FROM meraki.uplink_statuses
WHERE removed_at IS NULL GROUP BY organization_id
ON CONFLICT (dataset, scope) DO NOTHING;


-- v3: roles and operator-facing objects.


-- v3: organization leases shared by several instances.
CREATE TABLE IF NOT EXISTS meraki.sync_instances (
    instance_id text PRIMARY KEY,
    egress_id text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    capacity_orgs integer NOT NULL DEFAULT 0,
    balances boolean NOT NULL DEFAULT true,
    stopped_at timestamptz
);
CREATE INDEX IF NOT EXISTS sync_instances_heartbeat ON meraki.sync_instances (heartbeat_at);
COMMENT ON TABLE meraki.sync_instances IS 'Every meraki-sync process that took part in sharing the organizations (run and once); live while heartbeat_at is younger than the lease TTL.';
COMMENT ON COLUMN meraki.sync_instances.instance_id IS 'Unique id of one process start (host, pid and a random suffix).';
COMMENT ON COLUMN meraki.sync_instances.egress_id IS 'Name of the egress IP the instance reaches Meraki from (setting cluster.egress_id); instances with the same egress share its 100 requests/s.';
COMMENT ON COLUMN meraki.sync_instances.host IS 'Host name of the instance.';
COMMENT ON COLUMN meraki.sync_instances.pid IS 'Process id of the instance on its host.';
COMMENT ON COLUMN meraki.sync_instances.started_at IS 'When the instance registered (database clock).';
COMMENT ON COLUMN meraki.sync_instances.heartbeat_at IS 'Last renewal of the instance (database clock).';
COMMENT ON COLUMN meraki.sync_instances.capacity_orgs IS 'How many organizations the instance can keep fresh within its share of its egress budget, as of its last heartbeat.';
COMMENT ON COLUMN meraki.sync_instances.balances IS 'True for `run` (takes its share of the organizations); false for `once`, which holds only the organizations of its pass.';
COMMENT ON COLUMN meraki.sync_instances.stopped_at IS 'When the instance stopped cleanly; NULL while running or after a crash.';

CREATE TABLE IF NOT EXISTS meraki.org_leases (
    organization_id text PRIMARY KEY,
    owner_id text,
    egress_id text,
    fencing bigint NOT NULL DEFAULT 0,
    acquired_at timestamptz,
    renewed_at timestamptz,
    expires_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    released_at timestamptz,
    takeovers bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE meraki.org_leases IS 'Which instance syncs each organization: a lease renewed well inside its TTL, with a fencing number every org-scoped write checks in its own transaction.';
COMMENT ON COLUMN meraki.org_leases.organization_id IS 'Meraki organization id.';
COMMENT ON COLUMN meraki.org_leases.owner_id IS 'instance_id (meraki.sync_instances) of the last holder; the lease is held only while expires_at is in the future.';
COMMENT ON COLUMN meraki.org_leases.egress_id IS 'Egress of the last holder.';
COMMENT ON COLUMN meraki.org_leases.fencing IS 'Fencing number: increases on every claim of the organization, so a writer holding an older number is refused.';
COMMENT ON COLUMN meraki.org_leases.acquired_at IS 'When the current holder claimed the organization (database clock).';
COMMENT ON COLUMN meraki.org_leases.renewed_at IS 'Last renewal by the holder (database clock).';
COMMENT ON COLUMN meraki.org_leases.expires_at IS 'The lease ends here unless renewed (database clock); in the past means the organization is free.';
COMMENT ON COLUMN meraki.org_leases.released_at IS 'When the holder gave the organization up (clean stop or rebalancing); NULL when it expired or is held.';
COMMENT ON COLUMN meraki.org_leases.takeovers IS 'How many times an instance claimed the organization after another holder''s lease expired without a release.';

-- Sync now: `once` beside running instances asks the holders of its organizations to run
-- every job now (NOTIFY on channel meraki_sync_sync_now; the notification is only a wake-up,
-- these rows are the request). One row per (request, organization) says which instance took
-- it and when it was done; the runs it made carry the request id in meraki.sync_runs.
CREATE TABLE IF NOT EXISTS meraki.sync_requests (
    request_id text NOT NULL,
    organization_id text NOT NULL,
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz NOT NULL,
    accept_shrink boolean NOT NULL DEFAULT false,
    instance_id text,
    accepted_at timestamptz,
    finished_at timestamptz,
    error text,
    PRIMARY KEY (request_id, organization_id)
);
CREATE INDEX IF NOT EXISTS sync_requests_pending ON meraki.sync_requests (organization_id)
    WHERE accepted_at IS NULL;
COMMENT ON TABLE meraki.sync_requests IS 'Requests of `meraki-sync once` to the running instances holding its organizations: run every job of the organization now. Kept 7 days.';
COMMENT ON COLUMN meraki.sync_requests.request_id IS 'Id of the request (one `once` invocation); the runs made for it carry it in meraki.sync_runs.request_id.';
COMMENT ON COLUMN meraki.sync_requests.organization_id IS 'Organization to sync now.';
COMMENT ON COLUMN meraki.sync_requests.requested_by IS 'instance_id of the `once` process that asked.';
COMMENT ON COLUMN meraki.sync_requests.requested_at IS 'When it asked (database clock).';
COMMENT ON COLUMN meraki.sync_requests.expires_at IS 'No instance takes the request after this (the asking process gave up; database clock).';
COMMENT ON COLUMN meraki.sync_requests.accept_shrink IS 'The request carries `--accept-shrink`: listings the listing guard holds are applied by its runs.';
COMMENT ON COLUMN meraki.sync_requests.instance_id IS 'instance_id of the instance that took the request (the holder of the organization''s lease then); NULL while nobody has.';
COMMENT ON COLUMN meraki.sync_requests.accepted_at IS 'When that instance took it (database clock).';
COMMENT ON COLUMN meraki.sync_requests.finished_at IS 'When every job of the organization had run for it (database clock).';
COMMENT ON COLUMN meraki.sync_requests.error IS 'Why the request was not carried out in full (the instance stopped, a job crashed, the API key was rejected); NULL otherwise. Failed runs say why in meraki.sync_runs.';

ALTER TABLE meraki.sync_runs ADD COLUMN IF NOT EXISTS request_id text;
CREATE INDEX IF NOT EXISTS sync_runs_request_idx ON meraki.sync_runs (request_id)
    WHERE request_id IS NOT NULL;
COMMENT ON COLUMN meraki.sync_runs.request_id IS 'meraki.sync_requests.request_id of the `once` request the run was made for; NULL for scheduled runs and for the runs of a `once` pass itself.';



-- v3: compact loss/latency samples and rollups.


-- v3: retention of bookkeeping and change history.


-- v3: reports.
-- Set-returning functions over a period [p_from, p_to) (half-open: an event at p_to belongs to
-- the next period), per customer of meraki.customer_map, for reporting tools and dashboards.
-- They run with the caller's rights (SECURITY INVOKER, the default), so they show only what
-- the caller may SELECT; EXECUTE stays with PUBLIC as PostgreSQL grants it, and is granted to
-- meraki_reader by name where that role exists. Durations are seconds (numeric; fractions only
-- where the period's bounds have them), percentages have three decimals. A customer is a
-- (customer_id, customer_name) pair, as in the customer_* views; a device, uplink or site
-- counts for the customer its network is mapped to now. CREATE OR REPLACE cannot change a
-- function's result columns: a later change to them must DROP FUNCTION first. JIT is off in
-- them: their plans are many small expressions over a few rows per device, and compiling them
-- cost more than it saved (a day of 20,000 devices: 3.1 s with JIT, 1.0 s without).

CREATE OR REPLACE FUNCTION meraki.report_check_period(p_from timestamptz, p_to timestamptz)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_from IS NULL OR p_to IS NULL THEN
        RAISE EXCEPTION 'report period needs both bounds: p_from is %, p_to is %',
            coalesce(p_from::text, 'NULL'), coalesce(p_to::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_to <= p_from THEN
        RAISE EXCEPTION 'report period is empty: p_to (%) must be after p_from (%)', p_to, p_from
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;
COMMENT ON FUNCTION meraki.report_check_period(timestamptz, timestamptz) IS 'Raises invalid_parameter_value unless p_from and p_to are both set and p_to is after p_from; every report function calls it first.';

-- Device availability from the exact status history. Available: online or alerting (the
-- device is connected to the Meraki cloud; alerting reports a problem but still serves).
-- Unavailable: offline. Excluded from the measure: dormant (Meraki's status for a device that
-- has not connected for a long time, e.g. a spare on the shelf) and any status Meraki may add.
-- A device is measured over the part of the period inside its organization's gapless history
-- [covered_from, covered_until) of meraki.device_availability_watermarks, and until the device
-- was removed; its status at any time t is the new status of the last transition (ts <= t,
-- inside the gapless history), else the old status of the first transition after t, else
-- (no transition at all since covered_from) its current status, meraki.devices.status.
-- Transitions of schema v2 (source polled, no ts) are not used.
CREATE OR REPLACE FUNCTION meraki.report_device_availability_by_device(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    customer_id      text,
    customer_name    text,
    organization_id  text,
    network_id       text,
    network_name     text,
    serial           text,
    device_name      text,
    model            text,
    product_type     text,
    measured_from    timestamptz,
    measured_until   timestamptz,
    available_s      numeric,
    unavailable_s    numeric,
    excluded_s       numeric,
    availability_pct numeric,
    transitions      bigint
) LANGUAGE plpgsql STABLE SET jit = off AS $$
#variable_conflict use_column
BEGIN
    PERFORM meraki.report_check_period(p_from, p_to);
    RETURN QUERY
    WITH span AS (
        SELECT m.customer_id, m.customer_name, d.organization_id, d.network_id,
               n.name AS network_name, d.serial, d.name AS device_name, d.model, d.product_type,
               d.status AS current_status, w.covered_from,
               greatest(p_from, w.covered_from) AS span_from,
               least(p_to, w.covered_until, d.removed_at) AS span_to
        FROM meraki.customer_map m
        JOIN meraki.devices d
          ON d.organization_id = m.organization_id AND d.network_id = m.network_id
        JOIN meraki.device_availability_watermarks w ON w.organization_id = d.organization_id
        LEFT JOIN meraki.networks n ON n.id = d.network_id
    ), measured AS (
        SELECT * FROM span WHERE span_to > span_from
    ), edges AS (
        SELECT s.serial, s.span_from AS at, 0::bigint AS ord, false AS is_change,
               coalesce(
                   (SELECT c.new_status FROM meraki.device_status_changes c
                    WHERE c.serial = s.serial AND c.ts >= s.covered_from AND c.ts <= s.span_from
                    ORDER BY c.ts DESC, c.id DESC LIMIT 1),
                   (SELECT c.old_status FROM meraki.device_status_changes c
                    WHERE c.serial = s.serial AND c.ts > s.span_from
                    ORDER BY c.ts, c.id LIMIT 1),
                   s.current_status) AS status
        FROM measured s
        UNION ALL
        SELECT c.serial, c.ts, c.id, true, c.new_status
        FROM measured s
        JOIN meraki.device_status_changes c
          ON c.serial = s.serial AND c.ts > s.span_from AND c.ts < s.span_to
    ), segments AS (
        SELECT e.serial, e.status, e.is_change,
               extract(epoch FROM lead(e.at, 1, s.span_to)
                   OVER (PARTITION BY e.serial ORDER BY e.at, e.ord) - e.at) AS seconds
        FROM edges e
        JOIN measured s ON s.serial = e.serial
    ), totals AS (
        SELECT g.serial,
               coalesce(sum(g.seconds) FILTER (WHERE g.status IN ('online', 'alerting')), 0) AS up,
               coalesce(sum(g.seconds) FILTER (WHERE g.status = 'offline'), 0) AS down,
               coalesce(sum(g.seconds) FILTER (
                   WHERE g.status IS NULL OR g.status NOT IN ('online', 'alerting', 'offline')
               ), 0) AS other,
               count(*) FILTER (WHERE g.is_change) AS changes
        FROM segments g
        GROUP BY g.serial
    )
    SELECT s.customer_id, s.customer_name, s.organization_id, s.network_id, s.network_name,
           s.serial, s.device_name, s.model, s.product_type, s.span_from, s.span_to,
           t.up, t.down, t.other,
           round(100 * t.up / nullif(t.up + t.down, 0), 3),
           t.changes
    FROM measured s
    JOIN totals t ON t.serial = s.serial;
END $$;
COMMENT ON FUNCTION meraki.report_device_availability_by_device(timestamptz, timestamptz) IS 'Device availability over [p_from, p_to), one row per device of a mapped network measured in that period, from the exact status history (meraki.device_status_changes at Meraki''s times). Available: online or alerting; unavailable: offline; dormant (and any other status) is excluded from the percentage. Measured only inside the organization''s gapless history (meraki.device_availability_watermarks) and until the device was removed; the status before the first transition is that transition''s old status, and a device without any transition since covered_from had its current status throughout. Columns: measured_from/measured_until (the part of the period measured), available_s, unavailable_s, excluded_s (seconds), availability_pct (100 * available / (available + unavailable), NULL when the device was never online, alerting or offline in the period) and transitions (status changes inside the measured part).';

CREATE OR REPLACE FUNCTION meraki.report_device_availability(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    customer_id           text,
    customer_name         text,
    devices               bigint,
    devices_with_downtime bigint,
    available_s           numeric,
    unavailable_s         numeric,
    excluded_s            numeric,
    availability_pct      numeric
) LANGUAGE plpgsql STABLE SET jit = off AS $$
#variable_conflict use_column
BEGIN
    PERFORM meraki.report_check_period(p_from, p_to);
    RETURN QUERY
    WITH customers AS (
        SELECT DISTINCT m.customer_id, m.customer_name FROM meraki.customer_map m
    ), per_device AS (
        SELECT * FROM meraki.report_device_availability_by_device(p_from, p_to)
    )
    SELECT c.customer_id, c.customer_name,
           count(d.serial),
           count(d.serial) FILTER (WHERE d.unavailable_s > 0),
           coalesce(sum(d.available_s), 0),
           coalesce(sum(d.unavailable_s), 0),
           coalesce(sum(d.excluded_s), 0),
           round(100 * sum(d.available_s) / nullif(sum(d.available_s + d.unavailable_s), 0), 3)
    FROM customers c
    LEFT JOIN per_device d
      ON d.customer_id = c.customer_id AND d.customer_name IS NOT DISTINCT FROM c.customer_name
    GROUP BY c.customer_id, c.customer_name;
END $$;
COMMENT ON FUNCTION meraki.report_device_availability(timestamptz, timestamptz) IS 'Device availability per customer over [p_from, p_to): the device-seconds of meraki.report_device_availability_by_device added up, so availability_pct = 100 * available_s / (available_s + unavailable_s) weighs every device by the time it was measured. One row per customer of meraki.customer_map, with devices = devices measured and devices_with_downtime = those offline at some time; availability_pct is NULL when nothing was measured.';

-- Failovers from the uplink status history. meraki.uplink_status_changes is the only record of
-- uplink transitions, and its times are meraki-sync's observations (observed_at), not Meraki's:
-- uplinks/statuses says which uplink is active, not since when. A failover's start and end are
-- therefore late by up to sync.uplink_statuses_interval_s (60 s) while the daemon runs, an
-- episode shorter than that interval can be missed, and one that begins and ends while the
-- daemon is stopped is never seen. Episodes are those of meraki.failover_events (a backup
-- uplink carrying traffic).
CREATE OR REPLACE FUNCTION meraki.report_failovers(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    customer_id         text,
    customer_name       text,
    failovers           bigint,
    cellular_failovers  bigint,
    devices_failed_over bigint,
    backup_s            numeric,
    cellular_s          numeric
) LANGUAGE plpgsql STABLE SET jit = off AS $$
#variable_conflict use_column
BEGIN
    PERFORM meraki.report_check_period(p_from, p_to);
    RETURN QUERY
    WITH customers AS (
        SELECT DISTINCT m.customer_id, m.customer_name FROM meraki.customer_map m
    ), episodes AS (
        SELECT m.customer_id, m.customer_name, e.serial, e.interface, e.started_at,
               -- Already active when meraki-sync first saw the uplink: its start is unknown.
               e.started_at > (SELECT min(c.observed_at) FROM meraki.uplink_status_changes c
                               WHERE c.serial = e.serial AND c.interface = e.interface)
                   AS start_seen,
               extract(epoch FROM least(coalesce(e.ended_at, now()), p_to)
                                  - greatest(e.started_at, p_from)) AS seconds
        FROM meraki.customer_map m
        JOIN meraki.failover_events e
          ON e.organization_id = m.organization_id AND e.network_id = m.network_id
        WHERE e.started_at < p_to AND coalesce(e.ended_at, now()) > p_from
    )
    SELECT c.customer_id, c.customer_name,
           count(e.serial) FILTER (WHERE e.started_at >= p_from AND e.start_seen),
           count(e.serial) FILTER (WHERE e.started_at >= p_from AND e.start_seen
                                     AND e.interface = 'cellular'),
           count(DISTINCT e.serial),
           coalesce(sum(e.seconds), 0),
           coalesce(sum(e.seconds) FILTER (WHERE e.interface = 'cellular'), 0)
    FROM customers c
    LEFT JOIN episodes e
      ON e.customer_id = c.customer_id AND e.customer_name IS NOT DISTINCT FROM c.customer_name
    GROUP BY c.customer_id, c.customer_name;
END $$;
COMMENT ON FUNCTION meraki.report_failovers(timestamptz, timestamptz) IS 'Failovers per customer over [p_from, p_to), from meraki.failover_events (built from meraki.uplink_status_changes, whose times are when meraki-sync saw each change: late by up to sync.uplink_statuses_interval_s, and blind while the daemon is stopped). failovers: episodes of a backup uplink (wan2, wan3 or cellular of an MX/Z; a wired uplink of an MG) that began in the period; one already active when meraki-sync first saw the uplink counts for its time but not as a failover. cellular_failovers: those on the cellular uplink. devices_failed_over: devices on a backup uplink at any time in the period. backup_s and cellular_s: device-seconds on any backup uplink and on cellular inside the period (an ongoing episode counts until now).';

-- Secure Access site availability from the connectivity history (role site). Available: good.
-- Excluded: dormant (a site not in use). Unavailable: every other status (bad tunnel, bad NAT,
-- many bad tunnels, offline, no registry). A site is measured from its first stored entry
-- (each entry is its status from then on) to when its history was last fetched
-- (sase_sites.status_checked_at) or it was removed.
CREATE OR REPLACE FUNCTION meraki.report_sase_site_availability_by_site(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    customer_id      text,
    customer_name    text,
    organization_id  text,
    network_id       text,
    network_name     text,
    site_id          text,
    site_name        text,
    measured_from    timestamptz,
    measured_until   timestamptz,
    available_s      numeric,
    unavailable_s    numeric,
    excluded_s       numeric,
    availability_pct numeric,
    times_lost       bigint
) LANGUAGE plpgsql STABLE SET jit = off AS $$
#variable_conflict use_column
BEGIN
    PERFORM meraki.report_check_period(p_from, p_to);
    RETURN QUERY
    WITH sites AS (
        SELECT m.customer_id, m.customer_name, s.organization_id, s.network_id,
               n.name AS network_name, s.site_id, s.name AS site_name, s.status_checked_at,
               s.removed_at,
               (SELECT min(h.ts) FROM meraki.sase_site_status_history h
                WHERE h.site_id = s.site_id AND h.role = 'site') AS first_entry
        FROM meraki.customer_map m
        JOIN meraki.sase_sites s
          ON s.organization_id = m.organization_id AND s.network_id = m.network_id
        LEFT JOIN meraki.networks n ON n.id = s.network_id
    ), span AS (
        -- greatest/least skip NULLs: a site never checked, or without history, is left out.
        SELECT s.*, greatest(p_from, s.first_entry) AS span_from,
               least(p_to, s.status_checked_at, s.removed_at) AS span_to
        FROM sites s
        WHERE s.first_entry IS NOT NULL AND s.status_checked_at IS NOT NULL
    ), measured AS (
        SELECT * FROM span WHERE span_to > span_from
    ), edges AS (
        SELECT s.site_id, s.span_from AS at,
               (SELECT h.status FROM meraki.sase_site_status_history h
                WHERE h.site_id = s.site_id AND h.role = 'site' AND h.ts <= s.span_from
                ORDER BY h.ts DESC LIMIT 1) AS status
        FROM measured s
        UNION ALL
        SELECT h.site_id, h.ts, h.status
        FROM measured s
        JOIN meraki.sase_site_status_history h
          ON h.site_id = s.site_id AND h.role = 'site'
         AND h.ts > s.span_from AND h.ts < s.span_to
    ), segments AS (
        SELECT e.site_id, e.status,
               extract(epoch FROM lead(e.at, 1, s.span_to)
                   OVER (PARTITION BY e.site_id ORDER BY e.at) - e.at) AS seconds
        FROM edges e
        JOIN measured s ON s.site_id = e.site_id
    ), totals AS (
        SELECT g.site_id,
               coalesce(sum(g.seconds) FILTER (WHERE g.status = 'good'), 0) AS up,
               coalesce(sum(g.seconds) FILTER (WHERE g.status NOT IN ('good', 'dormant')), 0) AS down,
               coalesce(sum(g.seconds) FILTER (WHERE g.status = 'dormant'), 0) AS other
        FROM segments g
        GROUP BY g.site_id
    )
    SELECT s.customer_id, s.customer_name, s.organization_id, s.network_id, s.network_name,
           s.site_id, s.site_name, s.span_from, s.span_to,
           t.up, t.down, t.other,
           round(100 * t.up / nullif(t.up + t.down, 0), 3),
           (SELECT count(*) FROM (
                SELECT h.ts, h.status, lag(h.status) OVER (ORDER BY h.ts) AS before
                FROM meraki.sase_site_status_history h
                WHERE h.site_id = s.site_id AND h.role = 'site' AND h.ts < s.span_to
            ) x
            WHERE x.ts >= s.span_from AND x.status NOT IN ('good', 'dormant')
              AND (x.before IS NULL OR x.before IN ('good', 'dormant')))
    FROM measured s
    JOIN totals t ON t.site_id = s.site_id;
END $$;
COMMENT ON FUNCTION meraki.report_sase_site_availability_by_site(timestamptz, timestamptz) IS 'Secure Access site availability over [p_from, p_to), one row per site of a mapped network measured in that period, from meraki.sase_site_status_history (role site; each entry is the site''s status from its ts on). Available: good; excluded: dormant; unavailable: any other status (bad tunnel, bad NAT, many bad tunnels, offline, no registry). Measured from the site''s first stored entry to when its history was last fetched (status_checked_at) or the site was removed. times_lost counts the times the site became unavailable inside the measured part: entries with an unavailable status whose previous entry was good or dormant, or that are the site''s first.';

CREATE OR REPLACE FUNCTION meraki.report_sase_site_availability(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    customer_id      text,
    customer_name    text,
    sites            bigint,
    sites_lost       bigint,
    available_s      numeric,
    unavailable_s    numeric,
    excluded_s       numeric,
    availability_pct numeric
) LANGUAGE plpgsql STABLE SET jit = off AS $$
#variable_conflict use_column
BEGIN
    PERFORM meraki.report_check_period(p_from, p_to);
    RETURN QUERY
    WITH customers AS (
        SELECT DISTINCT m.customer_id, m.customer_name FROM meraki.customer_map m
    ), per_site AS (
        SELECT * FROM meraki.report_sase_site_availability_by_site(p_from, p_to)
    )
    SELECT c.customer_id, c.customer_name,
           count(s.site_id),
           count(s.site_id) FILTER (WHERE s.times_lost > 0),
           coalesce(sum(s.available_s), 0),
           coalesce(sum(s.unavailable_s), 0),
           coalesce(sum(s.excluded_s), 0),
           round(100 * sum(s.available_s) / nullif(sum(s.available_s + s.unavailable_s), 0), 3)
    FROM customers c
    LEFT JOIN per_site s
      ON s.customer_id = c.customer_id AND s.customer_name IS NOT DISTINCT FROM c.customer_name
    GROUP BY c.customer_id, c.customer_name;
END $$;
COMMENT ON FUNCTION meraki.report_sase_site_availability(timestamptz, timestamptz) IS 'Secure Access site availability per customer over [p_from, p_to): the site-seconds of meraki.report_sase_site_availability_by_site added up (availability_pct = 100 * available_s / (available_s + unavailable_s), NULL when nothing was measured); sites = sites measured, sites_lost = those that became unavailable in the period (times_lost > 0).';

DO $$
DECLARE
    fn regprocedure;
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'meraki_reader') THEN
        FOR fn IN
            SELECT p.oid::regprocedure FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'meraki' AND p.proname LIKE 'report\_%'
        LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO meraki_reader', fn);
        END LOOP;
    END IF;
END $$;


INSERT INTO meraki.schema_version (version) VALUES (1), (2), (3) ON CONFLICT (version) DO NOTHING;
