-- name: organizations_staging
-- management.details travel as two parallel arrays (names, values) and land in their own table.
CREATE TEMP TABLE staging_organizations ON COMMIT DROP AS
SELECT id, name, url, api_enabled, licensing_model, cloud_region,
       NULL::text[] AS management_detail_names, NULL::text[] AS management_detail_values
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

-- name: organization_management_details_merge
-- Every listed org's details become what the listing says (a detail gone from it is deleted);
-- an org missing from the listing keeps its last details, like its soft-deleted row.
WITH listed AS (
    SELECT DISTINCT ON (s.id) s.id, s.management_detail_names, s.management_detail_values
    FROM staging_organizations s
    ORDER BY s.id
), current AS (
    SELECT DISTINCT ON (l.id, d.name) l.id AS organization_id, d.name, d.value,
           d.position::integer AS position
    FROM listed l,
         unnest(l.management_detail_names, l.management_detail_values)
             WITH ORDINALITY AS d(name, value, position)
    WHERE d.name IS NOT NULL
    ORDER BY l.id, d.name, d.position
), gone AS (
    DELETE FROM meraki.organization_management_details m
    USING listed l
    WHERE m.organization_id = l.id
      AND NOT EXISTS (SELECT 1 FROM current c
                      WHERE c.organization_id = m.organization_id AND c.name = m.name)
)
INSERT INTO meraki.organization_management_details AS m
    (organization_id, name, value, position, first_seen_at, updated_at)
SELECT c.organization_id, c.name, c.value, c.position, :observed_at, :observed_at
FROM current c
ON CONFLICT (organization_id, name) DO UPDATE SET
    value = EXCLUDED.value,
    position = EXCLUDED.position,
    updated_at = CASE
        WHEN (m.value, m.position) IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.position)
        THEN EXCLUDED.updated_at ELSE m.updated_at END;
