-- name: organizations_staging
CREATE TEMP TABLE staging_organizations ON COMMIT DROP AS
SELECT id, name, url, api_enabled, licensing_model, cloud_region
FROM meraki.organizations WITH NO DATA;

-- name: organizations_merge
INSERT INTO meraki.organizations AS o
    (id, name, url, api_enabled, licensing_model, cloud_region,
     first_seen_at, last_seen_at, updated_at, removed_at)
SELECT DISTINCT ON (s.id)
    s.id, s.name, s.url, s.api_enabled, s.licensing_model, s.cloud_region,
    :observed_at, :observed_at, :observed_at, NULL
FROM staging_organizations s
ORDER BY s.id
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name,
    url = EXCLUDED.url,
    api_enabled = EXCLUDED.api_enabled,
    licensing_model = EXCLUDED.licensing_model,
    cloud_region = EXCLUDED.cloud_region,
    last_seen_at = EXCLUDED.last_seen_at,
    removed_at = NULL,
    updated_at = CASE
        WHEN (o.name, o.url, o.api_enabled, o.licensing_model, o.cloud_region, o.removed_at)
             IS DISTINCT FROM
             (EXCLUDED.name, EXCLUDED.url, EXCLUDED.api_enabled, EXCLUDED.licensing_model,
              EXCLUDED.cloud_region, NULL::timestamptz)
        THEN EXCLUDED.updated_at ELSE o.updated_at END;

-- name: organizations_soft_delete
UPDATE meraki.organizations o
SET removed_at = :observed_at, updated_at = :observed_at
WHERE o.removed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM staging_organizations s WHERE s.id = o.id);
