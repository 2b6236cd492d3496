-- Sync-now requests: `once` asks the running holders of its organizations to run every job now.
-- Every time is the database's clock, as for the leases.

-- name: sync_request_prune
DELETE FROM meraki.sync_requests
WHERE requested_at < clock_timestamp() - make_interval(secs => :keep_s);

-- name: sync_request_create
INSERT INTO meraki.sync_requests
    (request_id, organization_id, requested_by, expires_at, accept_shrink)
SELECT :request_id, org, :requested_by,
       clock_timestamp() + make_interval(secs => :timeout_s), :accept_shrink
FROM unnest(:organization_ids::text[]) AS org
ON CONFLICT (request_id, organization_id) DO NOTHING;

-- name: sync_request_notify
SELECT pg_notify(:channel, :payload);

-- name: sync_request_accept
-- The instance holding an organization's lease takes its live requests (one request id, or
-- every one when :request_id is NULL). SKIP LOCKED: two instances taking at once never wait on
-- each other; the lease check makes sure only the holder of the moment takes a request.
WITH pending AS (
    SELECT r.request_id, r.organization_id
    FROM meraki.sync_requests AS r
    JOIN meraki.org_leases AS l ON l.organization_id = r.organization_id
    WHERE r.accepted_at IS NULL
      AND r.expires_at > clock_timestamp()
      AND r.organization_id = ANY(:organization_ids::text[])
      AND (:request_id::text IS NULL OR r.request_id = :request_id::text)
      AND l.owner_id = :instance_id
      AND l.expires_at > clock_timestamp()
    ORDER BY r.requested_at, r.request_id, r.organization_id
    FOR UPDATE OF r SKIP LOCKED
)
UPDATE meraki.sync_requests AS r
SET instance_id = :instance_id, accepted_at = clock_timestamp()
FROM pending AS p
WHERE r.request_id = p.request_id AND r.organization_id = p.organization_id
RETURNING r.request_id, r.organization_id, r.accept_shrink;

-- name: sync_request_finish
UPDATE meraki.sync_requests
SET finished_at = clock_timestamp(), error = :error
WHERE request_id = :request_id
  AND organization_id = :organization_id
  AND instance_id = :instance_id
  AND finished_at IS NULL;

-- name: sync_request_hand_back
-- Taken but not run (the lease went meanwhile): the organization's next holder may take it.
UPDATE meraki.sync_requests
SET instance_id = NULL, accepted_at = NULL
WHERE request_id = :request_id
  AND organization_id = ANY(:organization_ids::text[])
  AND instance_id = :instance_id
  AND finished_at IS NULL;

-- name: sync_request_abandon
-- The instance stops with requests in flight: they end with the reason, so `once` need not
-- wait for its timeout.
UPDATE meraki.sync_requests
SET finished_at = clock_timestamp(), error = :error
WHERE instance_id = :instance_id AND finished_at IS NULL;

-- name: sync_request_withdraw
-- The asking process gave up (timeout, Ctrl-C): no instance starts what it has not taken yet.
UPDATE meraki.sync_requests
SET expires_at = clock_timestamp()
WHERE request_id = :request_id AND accepted_at IS NULL;

-- name: sync_request_states
SELECT r.organization_id, r.instance_id, i.host, i.pid,
       r.accepted_at IS NOT NULL AS accepted, r.finished_at IS NOT NULL AS finished, r.error
FROM meraki.sync_requests AS r
LEFT JOIN meraki.sync_instances AS i ON i.instance_id = r.instance_id
WHERE r.request_id = :request_id
ORDER BY r.organization_id;

-- name: sync_request_runs
SELECT organization_id, dataset, outcome, rows, rejected_rows, requests, rate_limited, error,
       started_at, finished_at
FROM meraki.sync_runs
WHERE request_id = :request_id AND organization_id = ANY(:organization_ids::text[])
ORDER BY id;
