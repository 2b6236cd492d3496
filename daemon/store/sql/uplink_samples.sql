-- name: uplink_samples_staging
CREATE TEMP TABLE staging_uplink_samples ON COMMIT DROP AS
SELECT serial, uplink, ip, ts, organization_id, network_id, loss_percent, latency_ms
FROM meraki.uplink_samples WITH NO DATA;

-- name: uplink_samples_merge
-- The primary key makes a sample land once, whatever window or retry brings it again.
INSERT INTO meraki.uplink_samples
    (serial, uplink, ip, ts, organization_id, network_id, loss_percent, latency_ms)
SELECT s.serial, s.uplink, s.ip, s.ts, s.organization_id, s.network_id, s.loss_percent,
       s.latency_ms
FROM staging_uplink_samples s
ON CONFLICT DO NOTHING;

-- name: uplink_samples_window_stored
-- Answers true when the window is new: its samples cannot be in the table yet.
INSERT INTO meraki.uplink_sample_windows
    (organization_id, window_start, window_end, samples, fetched_at)
VALUES (:organization_id, :window_start, :window_end, :samples, :fetched_at)
ON CONFLICT (organization_id, window_start) DO UPDATE SET
    samples = EXCLUDED.samples,
    fetched_at = EXCLUDED.fetched_at
RETURNING xmax = 0;

-- name: uplink_samples_stored_windows
SELECT window_start
FROM meraki.uplink_sample_windows
WHERE organization_id = :organization_id
  AND window_start >= :since
  AND window_start < :until;

-- name: uplink_samples_ensure_partitions
SELECT meraki.ensure_uplink_sample_partitions(:first_day, :last_day);

-- name: uplink_samples_drop_partitions
SELECT meraki.drop_uplink_sample_partitions_before(:cutoff_day);

-- name: uplink_samples_prune_windows
DELETE FROM meraki.uplink_sample_windows WHERE window_start < :cutoff;
