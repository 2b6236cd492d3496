-- name: sase_connectivity_overview_staging
CREATE TEMP TABLE staging_sase_connectivity_overview ON COMMIT DROP AS
SELECT healthy, degraded, offline, total
FROM meraki.sase_connectivity_overviews WITH NO DATA;

-- name: sase_connectivity_overview_merge
INSERT INTO meraki.sase_connectivity_overviews AS t
    (organization_id, healthy, degraded, offline, total, checked_at, updated_at)
SELECT :organization_id, s.healthy, s.degraded, s.offline, s.total, :observed_at, :observed_at
FROM staging_sase_connectivity_overview s
LIMIT 1
ON CONFLICT (organization_id) DO UPDATE SET
    healthy = EXCLUDED.healthy,
    degraded = EXCLUDED.degraded,
    offline = EXCLUDED.offline,
    total = EXCLUDED.total,
    checked_at = EXCLUDED.checked_at,
    updated_at = CASE
        WHEN (t.healthy, t.degraded, t.offline, t.total)
             IS DISTINCT FROM (EXCLUDED.healthy, EXCLUDED.degraded, EXCLUDED.offline,
                               EXCLUDED.total)
        THEN EXCLUDED.updated_at ELSE t.updated_at END;

-- name: sase_history_known_sites
-- The org's listed sites, those fetched longest ago (or never) first, so that one batch of
-- 100 needs a timespan close to what each of its sites really missed.
SELECT site_id, status_checked_at
FROM meraki.sase_sites
WHERE organization_id = :organization_id AND removed_at IS NULL
ORDER BY status_checked_at NULLS FIRST, site_id;

-- name: sase_history_staging
CREATE TEMP TABLE staging_sase_history ON COMMIT DROP AS
SELECT site_id, role, ts, device_id, status
FROM meraki.sase_site_status_history WITH NO DATA;

-- name: sase_history_lock_sites
-- The sites listing upserts these rows in site_id order; taking them in the same order first
-- keeps the two runs from deadlocking when they meet.
SELECT site_id FROM meraki.sase_sites
WHERE organization_id = :organization_id AND site_id = ANY(:checked_site_ids::text[])
ORDER BY site_id
FOR UPDATE;

-- name: sase_history_merge
-- Entries come back in every overlapping timespan: the natural key keeps one of each. Should
-- Meraki restate an entry, its latest word wins.
INSERT INTO meraki.sase_site_status_history AS t
    (site_id, role, ts, organization_id, device_id, status, first_seen_at)
SELECT DISTINCT ON (s.site_id, s.role, s.ts)
    s.site_id, s.role, s.ts, :organization_id, s.device_id, s.status, :observed_at
FROM staging_sase_history s
ORDER BY s.site_id, s.role, s.ts
ON CONFLICT (site_id, role, ts) DO UPDATE SET
    device_id = EXCLUDED.device_id,
    status = EXCLUDED.status
WHERE (t.device_id, t.status) IS DISTINCT FROM (EXCLUDED.device_id, EXCLUDED.status);

-- name: sase_history_site_status
-- Each checked site's current status is its latest stored site entry; it began with the
-- first entry after the last one that said something else (whether Meraki reports changes
-- only or repeats a status, that is when it began). Sites without any entry keep theirs.
WITH latest AS (
    SELECT DISTINCT ON (h.site_id) h.site_id, h.status, h.ts
    FROM meraki.sase_site_status_history h
    WHERE h.site_id = ANY(:checked_site_ids::text[]) AND h.role = 'site'
    ORDER BY h.site_id, h.ts DESC
), current AS (
    SELECT l.site_id, l.status,
           (SELECT min(h.ts) FROM meraki.sase_site_status_history h
            WHERE h.site_id = l.site_id AND h.role = 'site'
              AND h.ts > coalesce(
                  (SELECT max(d.ts) FROM meraki.sase_site_status_history d
                   WHERE d.site_id = l.site_id AND d.role = 'site' AND d.status <> l.status),
                  '-infinity')) AS since
    FROM latest l
)
UPDATE meraki.sase_sites t
SET status = c.status,
    status_since = c.since,
    updated_at = CASE WHEN (t.status, t.status_since) IS DISTINCT FROM (c.status, c.since)
                      THEN :observed_at ELSE t.updated_at END
FROM current c
WHERE t.site_id = c.site_id AND t.organization_id = :organization_id;

-- name: sase_history_checked
UPDATE meraki.sase_sites
SET status_checked_at = :observed_at
WHERE organization_id = :organization_id AND site_id = ANY(:checked_site_ids::text[]);
