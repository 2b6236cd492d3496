-- name: devices_staging
CREATE TEMP TABLE staging_devices ON COMMIT DROP AS
SELECT serial, network_id, name, model, mac, product_type, firmware, lan_ip, tags, lat, lng,
       address, notes
FROM meraki.devices WITH NO DATA;

-- name: devices_merge
INSERT INTO meraki.devices AS d
    (serial, organization_id, network_id, name, model, mac, product_type, firmware, lan_ip,
     tags, lat, lng, address, notes, first_seen_at, last_seen_at, updated_at, removed_at)
SELECT DISTINCT ON (s.serial)
    s.serial, :organization_id, s.network_id, s.name, s.model, s.mac, s.product_type,
    s.firmware, s.lan_ip, s.tags, s.lat, s.lng, s.address, s.notes,
    :observed_at, :observed_at, :observed_at, NULL
FROM staging_devices s
ORDER BY s.serial
ON CONFLICT (serial) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    network_id = EXCLUDED.network_id,
    name = EXCLUDED.name,
    model = EXCLUDED.model,
    mac = EXCLUDED.mac,
    product_type = EXCLUDED.product_type,
    firmware = EXCLUDED.firmware,
    lan_ip = EXCLUDED.lan_ip,
    tags = EXCLUDED.tags,
    lat = EXCLUDED.lat,
    lng = EXCLUDED.lng,
    address = EXCLUDED.address,
    notes = EXCLUDED.notes,
    last_seen_at = EXCLUDED.last_seen_at,
    removed_at = NULL,
    updated_at = CASE
        WHEN (d.organization_id, d.network_id, d.name, d.model, d.mac, d.product_type,
              d.firmware, d.lan_ip, d.tags, d.lat, d.lng, d.address, d.notes, d.removed_at)
             IS DISTINCT FROM
             (EXCLUDED.organization_id, EXCLUDED.network_id, EXCLUDED.name, EXCLUDED.model,
              EXCLUDED.mac, EXCLUDED.product_type, EXCLUDED.firmware, EXCLUDED.lan_ip,
              EXCLUDED.tags, EXCLUDED.lat, EXCLUDED.lng, EXCLUDED.address, EXCLUDED.notes,
              NULL::timestamptz)
        THEN EXCLUDED.updated_at ELSE d.updated_at END;

-- name: devices_soft_delete
UPDATE meraki.devices d
SET removed_at = :observed_at, updated_at = :observed_at
WHERE d.organization_id = :organization_id
  AND d.removed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM staging_devices s WHERE s.serial = d.serial);
