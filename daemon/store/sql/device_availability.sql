-- name: device_availabilities_staging
CREATE TEMP TABLE staging_device_availabilities ON COMMIT DROP AS
SELECT serial, network_id, name, mac, product_type, tags, status
FROM meraki.devices WITH NO DATA;

-- name: device_availabilities_merge
-- The only writer of status. A device listed before the inventory is created with the
-- identity fields availabilities carry; the devices dataset owns them from then on.
INSERT INTO meraki.devices AS d
    (serial, organization_id, network_id, name, mac, product_type, tags, status,
     status_checked_at, first_seen_at, last_seen_at, updated_at)
SELECT DISTINCT ON (s.serial)
    s.serial, :organization_id, s.network_id, s.name, s.mac, s.product_type,
    coalesce(s.tags, '{}'), s.status, :observed_at, :observed_at, :observed_at, :observed_at
FROM staging_device_availabilities s
ORDER BY s.serial
ON CONFLICT (serial) DO UPDATE SET
    status = EXCLUDED.status,
    status_checked_at = EXCLUDED.status_checked_at,
    updated_at = CASE WHEN d.status IS DISTINCT FROM EXCLUDED.status
                      THEN EXCLUDED.updated_at ELSE d.updated_at END;

-- name: device_availability_changes_staging
CREATE TEMP TABLE staging_device_availability_changes ON COMMIT DROP AS
SELECT serial, ts, old_status, new_status, network_id
FROM meraki.device_status_changes WITH NO DATA;

-- name: device_availability_changes_merge
-- (serial, ts, old_status, new_status) is the natural key: the overlap of consecutive fetches
-- and any retried range land each transition once.
INSERT INTO meraki.device_status_changes
    (serial, organization_id, network_id, old_status, new_status, observed_at, ts, source)
SELECT DISTINCT ON (s.serial, s.ts, s.old_status, s.new_status)
    s.serial, :organization_id, s.network_id, s.old_status, s.new_status, :observed_at, s.ts,
    'changeHistory'
FROM staging_device_availability_changes s
ORDER BY s.serial, s.ts, s.old_status, s.new_status
ON CONFLICT (serial, ts, old_status, new_status) DO NOTHING;

-- name: device_availability_watermark
SELECT covered_from, covered_until
FROM meraki.device_availability_watermarks
WHERE organization_id = :organization_id;

-- name: device_availability_watermark_advance
-- Never moves back: a slower run finishing after a faster one keeps the later end.
INSERT INTO meraki.device_availability_watermarks AS w
    (organization_id, covered_from, covered_until, fetched_at, changes)
VALUES (:organization_id, :covered_from, :covered_until, :fetched_at, :changes)
ON CONFLICT (organization_id) DO UPDATE SET
    covered_from = EXCLUDED.covered_from,
    covered_until = GREATEST(w.covered_until, EXCLUDED.covered_until),
    fetched_at = EXCLUDED.fetched_at,
    changes = EXCLUDED.changes;
