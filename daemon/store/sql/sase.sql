-- name: sase_sites_staging
CREATE TEMP TABLE staging_sase_sites ON COMMIT DROP AS
SELECT site_id, network_id, name, type, model, region, vpn_type, default_route,
       primary_device_name, primary_device_model, spare_device_name, spare_device_model,
       subnets, url, address, devices, local_subnets
FROM meraki.sase_sites WITH NO DATA;

-- name: sase_sites_merge
-- The listing has no status: status, status_since and status_checked_at belong to the
-- connectivity history run and are left alone here.
INSERT INTO meraki.sase_sites AS t
    (site_id, organization_id, network_id, name, type, model, region, vpn_type, default_route,
     primary_device_name, primary_device_model, spare_device_name, spare_device_model,
     subnets, url, address, devices, local_subnets,
     first_seen_at, last_seen_at, updated_at, removed_at)
SELECT DISTINCT ON (s.site_id)
    s.site_id, :organization_id, s.network_id, s.name, s.type, s.model, s.region, s.vpn_type,
    s.default_route, s.primary_device_name, s.primary_device_model, s.spare_device_name,
    s.spare_device_model, s.subnets, s.url, s.address, s.devices, s.local_subnets,
    :observed_at, :observed_at, :observed_at, NULL
FROM staging_sase_sites s
ORDER BY s.site_id
ON CONFLICT (site_id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    network_id = EXCLUDED.network_id,
    name = EXCLUDED.name,
    type = EXCLUDED.type,
    model = EXCLUDED.model,
    region = EXCLUDED.region,
    vpn_type = EXCLUDED.vpn_type,
    default_route = EXCLUDED.default_route,
    primary_device_name = EXCLUDED.primary_device_name,
    primary_device_model = EXCLUDED.primary_device_model,
    spare_device_name = EXCLUDED.spare_device_name,
    spare_device_model = EXCLUDED.spare_device_model,
    subnets = EXCLUDED.subnets,
    url = EXCLUDED.url,
    address = EXCLUDED.address,
    devices = EXCLUDED.devices,
    local_subnets = EXCLUDED.local_subnets,
    last_seen_at = EXCLUDED.last_seen_at,
    removed_at = NULL,
    updated_at = CASE
        WHEN (t.organization_id, t.network_id, t.name, t.type, t.model, t.region, t.vpn_type,
              t.default_route, t.primary_device_name, t.primary_device_model,
              t.spare_device_name, t.spare_device_model, t.subnets, t.url, t.address,
              t.devices, t.local_subnets, t.removed_at)
             IS DISTINCT FROM
             (EXCLUDED.organization_id, EXCLUDED.network_id, EXCLUDED.name, EXCLUDED.type,
              EXCLUDED.model, EXCLUDED.region, EXCLUDED.vpn_type, EXCLUDED.default_route,
              EXCLUDED.primary_device_name, EXCLUDED.primary_device_model,
              EXCLUDED.spare_device_name, EXCLUDED.spare_device_model, EXCLUDED.subnets,
              EXCLUDED.url, EXCLUDED.address, EXCLUDED.devices, EXCLUDED.local_subnets,
              NULL::timestamptz)
        THEN EXCLUDED.updated_at ELSE t.updated_at END;

-- name: sase_sites_soft_delete
UPDATE meraki.sase_sites t
SET removed_at = :observed_at, updated_at = :observed_at
WHERE t.organization_id = :organization_id
  AND t.removed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM staging_sase_sites s WHERE s.site_id = t.site_id);

-- name: sase_regions_staging
CREATE TEMP TABLE staging_sase_regions ON COMMIT DROP AS
SELECT slug, connector_id, name, type
FROM meraki.sase_regions WITH NO DATA;

-- name: sase_regions_merge
INSERT INTO meraki.sase_regions AS t
    (organization_id, slug, connector_id, name, type, first_seen_at, last_seen_at, updated_at,
     removed_at)
SELECT DISTINCT ON (s.slug)
    :organization_id, s.slug, s.connector_id, s.name, s.type,
    :observed_at, :observed_at, :observed_at, NULL
FROM staging_sase_regions s
ORDER BY s.slug
ON CONFLICT (organization_id, slug) DO UPDATE SET
    connector_id = EXCLUDED.connector_id,
    name = EXCLUDED.name,
    type = EXCLUDED.type,
    last_seen_at = EXCLUDED.last_seen_at,
    removed_at = NULL,
    updated_at = CASE
        WHEN (t.connector_id, t.name, t.type, t.removed_at)
             IS DISTINCT FROM (EXCLUDED.connector_id, EXCLUDED.name, EXCLUDED.type,
                               NULL::timestamptz)
        THEN EXCLUDED.updated_at ELSE t.updated_at END;

-- name: sase_regions_soft_delete
UPDATE meraki.sase_regions t
SET removed_at = :observed_at, updated_at = :observed_at
WHERE t.organization_id = :organization_id
  AND t.removed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM staging_sase_regions s WHERE s.slug = t.slug);
