-- name: uplink_statuses_staging
CREATE TEMP TABLE staging_uplink_statuses ON COMMIT DROP AS
SELECT serial, interface, network_id, model, status, ip, gateway, public_ip, primary_dns,
       secondary_dns, ip_assigned_by, provider, signal_type, connection_type, rsrp, rsrq, apn,
       iccid, roaming, mcc, mnc, ha_enabled, ha_role, last_reported_at, imsi, msisdn, mtu
FROM meraki.uplink_statuses WITH NO DATA;

-- name: uplink_statuses_history
-- Runs before the merge, while meraki.uplink_statuses still holds the previous status. A
-- first sighting is recorded too (old_status NULL), so episodes have a start.
INSERT INTO meraki.uplink_status_changes
    (serial, interface, organization_id, network_id, old_status, new_status, observed_at,
     last_reported_at)
SELECT s.serial, s.interface, :organization_id, s.network_id, u.status, s.status,
       :observed_at, s.last_reported_at
FROM (SELECT DISTINCT ON (serial, interface) * FROM staging_uplink_statuses
      ORDER BY serial, interface) s
LEFT JOIN meraki.uplink_statuses u ON u.serial = s.serial AND u.interface = s.interface
WHERE u.status IS DISTINCT FROM s.status OR u.removed_at IS NOT NULL;

-- name: uplink_statuses_merge
INSERT INTO meraki.uplink_statuses AS u
    (serial, interface, organization_id, network_id, model, status, ip, gateway, public_ip,
     primary_dns, secondary_dns, ip_assigned_by, provider, signal_type, connection_type, rsrp,
     rsrq, apn, iccid, roaming, mcc, mnc, ha_enabled, ha_role, last_reported_at, imsi, msisdn,
     mtu, status_since, first_seen_at, last_seen_at, updated_at, removed_at)
SELECT DISTINCT ON (s.serial, s.interface)
    s.serial, s.interface, :organization_id, s.network_id, s.model, s.status, s.ip, s.gateway,
    s.public_ip, s.primary_dns, s.secondary_dns, s.ip_assigned_by, s.provider, s.signal_type,
    s.connection_type, s.rsrp, s.rsrq, s.apn, s.iccid, s.roaming, s.mcc, s.mnc, s.ha_enabled,
    s.ha_role, s.last_reported_at, s.imsi, s.msisdn, s.mtu,
    :observed_at, :observed_at, :observed_at, :observed_at, NULL
FROM staging_uplink_statuses s
ORDER BY s.serial, s.interface
ON CONFLICT (serial, interface) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    network_id = EXCLUDED.network_id,
    model = EXCLUDED.model,
    status = EXCLUDED.status,
    ip = EXCLUDED.ip,
    gateway = EXCLUDED.gateway,
    public_ip = EXCLUDED.public_ip,
    primary_dns = EXCLUDED.primary_dns,
    secondary_dns = EXCLUDED.secondary_dns,
    ip_assigned_by = EXCLUDED.ip_assigned_by,
    provider = EXCLUDED.provider,
    signal_type = EXCLUDED.signal_type,
    connection_type = EXCLUDED.connection_type,
    rsrp = EXCLUDED.rsrp,
    rsrq = EXCLUDED.rsrq,
    apn = EXCLUDED.apn,
    iccid = EXCLUDED.iccid,
    roaming = EXCLUDED.roaming,
    mcc = EXCLUDED.mcc,
    mnc = EXCLUDED.mnc,
    ha_enabled = EXCLUDED.ha_enabled,
    ha_role = EXCLUDED.ha_role,
    last_reported_at = EXCLUDED.last_reported_at,
    imsi = EXCLUDED.imsi,
    msisdn = EXCLUDED.msisdn,
    mtu = EXCLUDED.mtu,
    status_since = CASE
        WHEN u.status IS DISTINCT FROM EXCLUDED.status OR u.removed_at IS NOT NULL
        THEN EXCLUDED.status_since ELSE u.status_since END,
    last_seen_at = EXCLUDED.last_seen_at,
    removed_at = NULL,
    updated_at = CASE
        WHEN (u.organization_id, u.network_id, u.model, u.status, u.ip, u.gateway, u.public_ip,
              u.primary_dns, u.secondary_dns, u.ip_assigned_by, u.provider, u.signal_type,
              u.connection_type, u.rsrp, u.rsrq, u.apn, u.iccid, u.roaming, u.mcc, u.mnc,
              u.ha_enabled, u.ha_role, u.last_reported_at, u.imsi, u.msisdn, u.mtu,
              u.removed_at)
             IS DISTINCT FROM
             (EXCLUDED.organization_id, EXCLUDED.network_id, EXCLUDED.model, EXCLUDED.status,
              EXCLUDED.ip, EXCLUDED.gateway, EXCLUDED.public_ip, EXCLUDED.primary_dns,
              EXCLUDED.secondary_dns, EXCLUDED.ip_assigned_by, EXCLUDED.provider,
              EXCLUDED.signal_type, EXCLUDED.connection_type, EXCLUDED.rsrp, EXCLUDED.rsrq,
              EXCLUDED.apn, EXCLUDED.iccid, EXCLUDED.roaming, EXCLUDED.mcc, EXCLUDED.mnc,
              EXCLUDED.ha_enabled, EXCLUDED.ha_role, EXCLUDED.last_reported_at,
              EXCLUDED.imsi, EXCLUDED.msisdn, EXCLUDED.mtu, NULL::timestamptz)
        THEN EXCLUDED.updated_at ELSE u.updated_at END;

-- name: uplink_statuses_soft_delete
-- A vanished uplink ends its status history too, so an open episode closes.
WITH gone AS (
    UPDATE meraki.uplink_statuses u
    SET removed_at = :observed_at, updated_at = :observed_at
    WHERE u.organization_id = :organization_id
      AND u.removed_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM staging_uplink_statuses s
                      WHERE s.serial = u.serial AND s.interface = u.interface)
    RETURNING u.serial, u.interface, u.network_id, u.status
)
INSERT INTO meraki.uplink_status_changes
    (serial, interface, organization_id, network_id, old_status, new_status, observed_at)
SELECT g.serial, g.interface, :organization_id, g.network_id, g.status, 'removed', :observed_at
FROM gone g;
