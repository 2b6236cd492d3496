-- Retention of what grows without bound: run bookkeeping and status history. Each statement
-- deletes one batch (its own short transaction), walking the table oldest first from the key
-- the previous batch ended on; the caller loops until a batch says the cutoff is reached.

-- name: retention_lock
-- One instance prunes at a time; the others skip this round rather than queue behind it.
SELECT pg_try_advisory_xact_lock(hashtext('meraki-sync retention'));

-- name: retention_prune_runs
-- The next batch of runs in id order (insertion order, which is finishing order give or take a
-- commit); of them, those that ended before the cutoff go, except the newest run of each
-- (organization, dataset): whatever its age, it says when that dataset last ran and how.
WITH batch AS (
    SELECT id, organization_id, dataset, finished_at
    FROM meraki.sync_runs
    WHERE id > :after_id
    ORDER BY id
    LIMIT :batch_rows
), gone AS (
    DELETE FROM meraki.sync_runs r
    USING batch b
    WHERE r.id = b.id
      AND b.finished_at < :cutoff
      AND EXISTS (
          SELECT 1 FROM meraki.sync_runs n
          WHERE n.dataset = b.dataset
            AND (n.organization_id = b.organization_id
                 OR (n.organization_id IS NULL AND b.organization_id IS NULL))
            AND (n.finished_at, n.id) > (b.finished_at, b.id))
    RETURNING 1
)
SELECT (SELECT max(id) FROM batch) AS last_id,
       (SELECT count(*) FROM gone) AS deleted,
       coalesce((SELECT bool_or(finished_at >= :cutoff) FROM batch), true) AS done;

-- name: retention_prune_device_changes
-- Device status transitions recorded before the cutoff. Each row names the status before and
-- after, so the first one kept still tells the status it started from.
WITH batch AS (
    SELECT id FROM meraki.device_status_changes
    WHERE observed_at < :cutoff
    ORDER BY observed_at
    LIMIT :batch_rows
), gone AS (
    DELETE FROM meraki.device_status_changes c
    USING batch b
    WHERE c.id = b.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS deleted;

-- name: retention_device_watermarks
-- The stored transitions are gapless from covered_from on: no longer before the cutoff.
UPDATE meraki.device_availability_watermarks
SET covered_from = least(:cutoff, covered_until)
WHERE covered_from < :cutoff;

-- name: retention_prune_uplink_changes
-- Uplink status rows recorded before the cutoff, except each uplink's last one before it: the
-- status it had at the cutoff, so an episode that began earlier keeps its start
-- (meraki.uplink_episodes reads only new_status).
WITH batch AS (
    SELECT id, serial, interface, observed_at
    FROM meraki.uplink_status_changes
    WHERE observed_at < :cutoff
      AND observed_at >= :after_at
      AND (observed_at, id) > (:after_at, :after_id)
    ORDER BY observed_at, id
    LIMIT :batch_rows
), gone AS (
    DELETE FROM meraki.uplink_status_changes c
    USING batch b
    WHERE c.id = b.id
      AND EXISTS (
          SELECT 1 FROM meraki.uplink_status_changes n
          WHERE n.serial = b.serial AND n.interface = b.interface
            AND n.observed_at < :cutoff
            AND (n.observed_at, n.id) > (b.observed_at, b.id))
    RETURNING 1
), last AS (
    SELECT observed_at, id FROM batch ORDER BY observed_at DESC, id DESC LIMIT 1
)
SELECT (SELECT observed_at FROM last) AS last_at,
       (SELECT id FROM last) AS last_id,
       (SELECT count(*) FROM gone) AS deleted;

-- name: retention_prune_sase_history
-- Secure Access status entries before the cutoff, keeping what a site's current status and
-- status_since are computed from: the entry that began the status each site and device had at
-- the cutoff. An entry goes when a later one before the cutoff says something else (a newer
-- status began), or when the entry just before it says the same (a repeat, never a start).
WITH batch AS (
    SELECT site_id, role, ts, status
    FROM meraki.sase_site_status_history
    WHERE ts < :cutoff
      AND ts >= :after_ts
      AND (ts, site_id, role) > (:after_ts, :after_site_id, :after_role)
    ORDER BY ts, site_id, role
    LIMIT :batch_rows
), doomed AS (
    SELECT b.site_id, b.role, b.ts
    FROM batch b
    WHERE EXISTS (
              SELECT 1 FROM meraki.sase_site_status_history n
              WHERE n.site_id = b.site_id AND n.role = b.role
                AND n.ts > b.ts AND n.ts < :cutoff AND n.status <> b.status)
       OR (SELECT p.status FROM meraki.sase_site_status_history p
           WHERE p.site_id = b.site_id AND p.role = b.role AND p.ts < b.ts
           ORDER BY p.ts DESC
           LIMIT 1) = b.status
), gone AS (
    DELETE FROM meraki.sase_site_status_history h
    USING doomed d
    WHERE h.site_id = d.site_id AND h.role = d.role AND h.ts = d.ts
    RETURNING 1
), last AS (
    SELECT ts, site_id, role FROM batch ORDER BY ts DESC, site_id DESC, role DESC LIMIT 1
)
SELECT (SELECT ts FROM last) AS last_ts,
       (SELECT site_id FROM last) AS last_site_id,
       (SELECT role FROM last) AS last_role,
       (SELECT count(*) FROM gone) AS deleted;
