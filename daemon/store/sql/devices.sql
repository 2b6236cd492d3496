-- name: devices_staging
-- details travel as two parallel arrays (names, values) and land in meraki.device_details.
CREATE TEMP TABLE staging_devices ON COMMIT DROP AS
SELECT serial, network_id, name, model, mac, product_type, firmware, lan_ip, tags, lat, lng,
       address, notes, imei, NULL::text[] AS detail_names, NULL::text[] AS detail_values
FROM meraki.devices WITH NO DATA;

-- name: devices_merge
INSERT INTO meraki.devices AS d
    (serial, organization_id, network_id, name, model, mac, product_type, firmware, lan_ip,
     tags, lat, lng, address, notes, imei, first_seen_at, last_seen_at, updated_at, removed_at)
SELECT DISTINCT ON (s.serial)
    s.serial, :organization_id, s.network_id, s.name, s.model, s.mac, s.product_type,
    s.firmware, s.lan_ip, s.tags, s.lat, s.lng, s.address, s.notes, s.imei,
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
    imei = EXCLUDED.imei,
    last_seen_at = EXCLUDED.last_seen_at,
    removed_at = NULL,
    updated_at = CASE
        WHEN (d.organization_id, d.network_id, d.name, d.model, d.mac, d.product_type,
              d.firmware, d.lan_ip, d.tags, d.lat, d.lng, d.address, d.notes, d.imei,
              d.removed_at)
             IS DISTINCT FROM
             (EXCLUDED.organization_id, EXCLUDED.network_id, EXCLUDED.name, EXCLUDED.model,
              EXCLUDED.mac, EXCLUDED.product_type, EXCLUDED.firmware, EXCLUDED.lan_ip,
              EXCLUDED.tags, EXCLUDED.lat, EXCLUDED.lng, EXCLUDED.address, EXCLUDED.notes,
              EXCLUDED.imei, NULL::timestamptz)
        THEN EXCLUDED.updated_at ELSE d.updated_at END;

-- name: device_details_merge
-- Runs after devices_merge (the rows it references exist). Every listed device's details
-- become what the listing says; a device missing from the listing keeps its last details.
WITH listed AS (
    SELECT DISTINCT ON (s.serial) s.serial, s.detail_names, s.detail_values
    FROM staging_devices s
    ORDER BY s.serial
), current AS (
    SELECT DISTINCT ON (l.serial, d.name) l.serial, d.name, d.value,
           d.position::integer AS position
    FROM listed l,
         unnest(l.detail_names, l.detail_values) WITH ORDINALITY AS d(name, value, position)
    WHERE d.name IS NOT NULL
    ORDER BY l.serial, d.name, d.position
), gone AS (
    DELETE FROM meraki.device_details x
    USING listed l
    WHERE x.serial = l.serial
      AND NOT EXISTS (SELECT 1 FROM current c WHERE c.serial = x.serial AND c.name = x.name)
)
INSERT INTO meraki.device_details AS x
    (serial, name, organization_id, value, position, first_seen_at, updated_at)
SELECT c.serial, c.name, :organization_id, c.value, c.position, :observed_at, :observed_at
FROM current c
ON CONFLICT (serial, name) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    value = EXCLUDED.value,
    position = EXCLUDED.position,
    updated_at = CASE
        WHEN (x.organization_id, x.value, x.position)
             IS DISTINCT FROM (EXCLUDED.organization_id, EXCLUDED.value, EXCLUDED.position)
        THEN EXCLUDED.updated_at ELSE x.updated_at END;

-- name: devices_soft_delete
-- GET .../devices lists only devices assigned to a network, so its silence says nothing about a
-- device outside any network (network_id NULL, known from the statuses listing): spare those.
UPDATE meraki.devices d
SET removed_at = :observed_at, updated_at = :observed_at
WHERE d.organization_id = :organization_id
  AND d.removed_at IS NULL
  AND d.network_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM staging_devices s WHERE s.serial = d.serial);
