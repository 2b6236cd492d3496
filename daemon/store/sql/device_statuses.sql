-- name: device_statuses_staging
-- The deprecated statuses endpoint keeps only what no GA feed gives: last report, public IP,
-- gateway, addressing, DNS and the power supplies. Status comes from device_availabilities,
-- the LAN IP from the inventory.
CREATE TEMP TABLE staging_device_statuses ON COMMIT DROP AS
SELECT serial, network_id, name, model, mac, product_type, last_reported_at, public_ip,
       gateway, ip_type, primary_dns, secondary_dns, NULL::jsonb AS power_supplies
FROM meraki.devices WITH NO DATA;

-- name: device_statuses_merge
-- A status row can arrive before the inventory row: it then creates the device with the
-- identity fields it carries, which the devices dataset owns from then on.
INSERT INTO meraki.devices AS d
    (serial, organization_id, network_id, name, model, mac, product_type, last_reported_at,
     public_ip, gateway, ip_type, primary_dns, secondary_dns, reported_checked_at,
     first_seen_at, last_seen_at, updated_at)
SELECT DISTINCT ON (s.serial)
    s.serial, :organization_id, s.network_id, s.name, s.model, s.mac, s.product_type,
    s.last_reported_at, s.public_ip, s.gateway, s.ip_type, s.primary_dns, s.secondary_dns,
    :observed_at, :observed_at, :observed_at, :observed_at
FROM staging_device_statuses s
ORDER BY s.serial
ON CONFLICT (serial) DO UPDATE SET
    -- A device outside any network is never in the inventory: its model comes from here,
    -- but only while nothing else has set it (the inventory owns it otherwise).
    model = coalesce(d.model, EXCLUDED.model),
    last_reported_at = EXCLUDED.last_reported_at,
    public_ip = EXCLUDED.public_ip,
    gateway = EXCLUDED.gateway,
    ip_type = EXCLUDED.ip_type,
    primary_dns = EXCLUDED.primary_dns,
    secondary_dns = EXCLUDED.secondary_dns,
    reported_checked_at = EXCLUDED.reported_checked_at,
    updated_at = CASE
        WHEN (d.last_reported_at, d.public_ip, d.gateway, d.ip_type, d.primary_dns,
              d.secondary_dns)
             IS DISTINCT FROM
             (EXCLUDED.last_reported_at, EXCLUDED.public_ip, EXCLUDED.gateway, EXCLUDED.ip_type,
              EXCLUDED.primary_dns, EXCLUDED.secondary_dns)
        THEN EXCLUDED.updated_at ELSE d.updated_at END;

-- name: device_power_supplies_merge
INSERT INTO meraki.device_power_supplies AS p
    (serial, slot, organization_id, module_serial, model, status, poe_unit, poe_maximum,
     first_seen_at, last_seen_at, updated_at, removed_at)
SELECT DISTINCT ON (s.serial, ps.slot)
    s.serial, ps.slot, :organization_id, ps.serial, ps.model, ps.status, ps.poe_unit,
    ps.poe_maximum, :observed_at, :observed_at, :observed_at, NULL
FROM staging_device_statuses s,
     jsonb_to_recordset(s.power_supplies)
         AS ps (slot integer, serial text, model text, status text, poe_unit text,
                poe_maximum integer)
ORDER BY s.serial, ps.slot
ON CONFLICT (serial, slot) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    module_serial = EXCLUDED.module_serial,
    model = EXCLUDED.model,
    status = EXCLUDED.status,
    poe_unit = EXCLUDED.poe_unit,
    poe_maximum = EXCLUDED.poe_maximum,
    last_seen_at = EXCLUDED.last_seen_at,
    removed_at = NULL,
    updated_at = CASE
        WHEN (p.organization_id, p.module_serial, p.model, p.status, p.poe_unit, p.poe_maximum,
              p.removed_at)
             IS DISTINCT FROM
             (EXCLUDED.organization_id, EXCLUDED.module_serial, EXCLUDED.model,
              EXCLUDED.status, EXCLUDED.poe_unit, EXCLUDED.poe_maximum, NULL::timestamptz)
        THEN EXCLUDED.updated_at ELSE p.updated_at END;

-- name: device_power_supplies_soft_delete
-- Only slots of devices this listing carried: a device missing from it says nothing.
UPDATE meraki.device_power_supplies p
SET removed_at = :observed_at, updated_at = :observed_at
WHERE p.removed_at IS NULL
  AND p.serial IN (SELECT serial FROM staging_device_statuses)
  AND NOT EXISTS (
      SELECT 1
      FROM staging_device_statuses s, jsonb_to_recordset(s.power_supplies) AS ps (slot integer)
      WHERE s.serial = p.serial AND ps.slot = p.slot
  );
