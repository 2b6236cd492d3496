-- name: networks_staging
CREATE TEMP TABLE staging_networks ON COMMIT DROP AS
SELECT id, name, product_types, time_zone, tags, is_bound_to_config_template, url, notes
FROM meraki.networks WITH NO DATA;

-- name: networks_merge
INSERT INTO meraki.networks AS n
    (id, organization_id, name, product_types, time_zone, tags, is_bound_to_config_template,
     url, notes, first_seen_at, last_seen_at, updated_at, removed_at)
SELECT DISTINCT ON (s.id)
    s.id, :organization_id, s.name, s.product_types, s.time_zone, s.tags,
    s.is_bound_to_config_template, s.url, s.notes,
    :observed_at, :observed_at, :observed_at, NULL
FROM staging_networks s
ORDER BY s.id
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    name = EXCLUDED.name,
    product_types = EXCLUDED.product_types,
    time_zone = EXCLUDED.time_zone,
    tags = EXCLUDED.tags,
    is_bound_to_config_template = EXCLUDED.is_bound_to_config_template,
    url = EXCLUDED.url,
    notes = EXCLUDED.notes,
    last_seen_at = EXCLUDED.last_seen_at,
    removed_at = NULL,
    updated_at = CASE
        WHEN (n.organization_id, n.name, n.product_types, n.time_zone, n.tags,
              n.is_bound_to_config_template, n.url, n.notes, n.removed_at)
             IS DISTINCT FROM
             (EXCLUDED.organization_id, EXCLUDED.name, EXCLUDED.product_types,
              EXCLUDED.time_zone, EXCLUDED.tags, EXCLUDED.is_bound_to_config_template,
              EXCLUDED.url, EXCLUDED.notes, NULL::timestamptz)
        THEN EXCLUDED.updated_at ELSE n.updated_at END;

-- name: networks_soft_delete
UPDATE meraki.networks n
SET removed_at = :observed_at, updated_at = :observed_at
WHERE n.organization_id = :organization_id
  AND n.removed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM staging_networks s WHERE s.id = n.id);
