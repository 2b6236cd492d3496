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

INSERT INTO meraki.schema_version (version) VALUES (1) ON CONFLICT (version) DO NOTHING;
