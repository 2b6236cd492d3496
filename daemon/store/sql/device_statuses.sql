-- name: device_statuses_staging
CREATE TEMP TABLE staging_device_statuses ON COMMIT DROP AS
SELECT serial, network_id, name, model, mac, product_type, status, last_reported_at, public_ip,
       lan_ip, gateway, ip_type, primary_dns, secondary_dns
FROM meraki.devices WITH NO DATA;

-- name: device_statuses_history
-- Runs before the merge, while meraki.devices still holds the previous status.
INSERT INTO meraki.device_status_changes
    (serial, organization_id, network_id, old_status, new_status, observed_at, last_reported_at)
SELECT s.serial, :organization_id, s.network_id, d.status, s.status, :observed_at,
       s.last_reported_at
FROM (SELECT DISTINCT ON (serial) * FROM staging_device_statuses ORDER BY serial) s
JOIN meraki.devices d ON d.serial = s.serial
WHERE d.status IS NOT NULL AND d.status IS DISTINCT FROM s.status;

-- name: device_statuses_merge
-- A status row can arrive before the inventory row: it then creates the device with what the
-- statuses endpoint knows, and the devices dataset fills in the rest.
INSERT INTO meraki.devices AS d
    (serial, organization_id, network_id, name, model, mac, product_type, status,
     last_reported_at, public_ip, lan_ip, gateway, ip_type, primary_dns, secondary_dns,
     status_checked_at, first_seen_at, last_seen_at, updated_at)
SELECT DISTINCT ON (s.serial)
    s.serial, :organization_id, s.network_id, s.name, s.model, s.mac, s.product_type,
    s.status, s.last_reported_at, s.public_ip, s.lan_ip, s.gateway, s.ip_type,
    s.primary_dns, s.secondary_dns,
    :observed_at, :observed_at, :observed_at, :observed_at
FROM staging_device_statuses s
ORDER BY s.serial
ON CONFLICT (serial) DO UPDATE SET
    status = EXCLUDED.status,
    last_reported_at = EXCLUDED.last_reported_at,
    public_ip = EXCLUDED.public_ip,
    lan_ip = EXCLUDED.lan_ip,
    gateway = EXCLUDED.gateway,
    ip_type = EXCLUDED.ip_type,
    primary_dns = EXCLUDED.primary_dns,
    secondary_dns = EXCLUDED.secondary_dns,
    status_checked_at = EXCLUDED.status_checked_at,
    last_seen_at = EXCLUDED.last_seen_at,
    updated_at = CASE
        WHEN (d.status, d.last_reported_at, d.public_ip, d.lan_ip, d.gateway, d.ip_type,
              d.primary_dns, d.secondary_dns)
             IS DISTINCT FROM
             (EXCLUDED.status, EXCLUDED.last_reported_at, EXCLUDED.public_ip, EXCLUDED.lan_ip,
              EXCLUDED.gateway, EXCLUDED.ip_type, EXCLUDED.primary_dns, EXCLUDED.secondary_dns)
        THEN EXCLUDED.updated_at ELSE d.updated_at END;
