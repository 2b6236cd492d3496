-- name: listing_guard_state
SELECT applied_rows, held_fingerprint, held_times
FROM meraki.listing_guard
WHERE dataset = :dataset AND scope = :scope
FOR UPDATE;

-- name: listing_guard_applied
INSERT INTO meraki.listing_guard AS g
    (dataset, scope, applied_rows, applied_at, held_rows, held_fingerprint, held_times, held_since)
VALUES (:dataset, :scope, :rows, :observed_at, NULL, NULL, 0, NULL)
ON CONFLICT (dataset, scope) DO UPDATE SET
    applied_rows = EXCLUDED.applied_rows,
    applied_at = EXCLUDED.applied_at,
    held_rows = NULL,
    held_fingerprint = NULL,
    held_times = 0,
    held_since = NULL;

-- name: listing_guard_held
UPDATE meraki.listing_guard
SET held_rows = :rows,
    held_fingerprint = :fingerprint,
    held_times = :held_times,
    held_since = CASE WHEN :held_times::integer = 1 THEN :observed_at ELSE held_since END
WHERE dataset = :dataset AND scope = :scope;
