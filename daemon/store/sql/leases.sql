-- Organization leases shared by several instances. Every time is the database's clock
-- (clock_timestamp(), not now(): a long transaction must not see a stale instant).

-- name: lease_instance_heartbeat
INSERT INTO meraki.sync_instances (instance_id, egress_id, host, pid, capacity_orgs, balances)
VALUES (:instance_id, :egress_id, :host, :pid, :capacity_orgs, :balances)
ON CONFLICT (instance_id) DO UPDATE
SET heartbeat_at = clock_timestamp(), capacity_orgs = EXCLUDED.capacity_orgs, stopped_at = NULL;

-- name: lease_live_instances
SELECT instance_id, egress_id, host, pid, capacity_orgs, balances
FROM meraki.sync_instances
WHERE stopped_at IS NULL AND heartbeat_at > clock_timestamp() - make_interval(secs => :ttl_s)
ORDER BY instance_id;

-- name: lease_prune_instances
DELETE FROM meraki.sync_instances
WHERE heartbeat_at < clock_timestamp() - make_interval(secs => :keep_s);

-- name: lease_instance_stopped
UPDATE meraki.sync_instances SET stopped_at = clock_timestamp() WHERE instance_id = :instance_id;

-- name: lease_ensure_rows
-- Free since forever: a new org is claimable at once, without waiting out a handover.
INSERT INTO meraki.org_leases (organization_id, expires_at)
SELECT unnest(:organization_ids::text[]), '-infinity'::timestamptz
ON CONFLICT (organization_id) DO NOTHING;

-- name: lease_renew
UPDATE meraki.org_leases
SET expires_at = clock_timestamp() + make_interval(secs => :ttl_s), renewed_at = clock_timestamp()
WHERE organization_id = ANY(:organization_ids::text[])
  AND owner_id = :instance_id
  AND expires_at > clock_timestamp()
RETURNING organization_id, fencing;

-- name: lease_claim
-- Free leases, longest free first: expired (the holder stopped polling a margin before
-- expiry by its own clock) or released at least handover_s ago (a release stops the holder
-- only then). SKIP LOCKED: instances claiming at once never wait on each other nor deadlock,
-- and a lease row a write in flight holds FOR SHARE is not taken over under it.
WITH candidates AS (
    SELECT organization_id,
           (owner_id IS NOT NULL AND owner_id <> :instance_id AND released_at IS NULL) AS takeover
    FROM meraki.org_leases
    WHERE organization_id = ANY(:organization_ids::text[])
      AND expires_at <= clock_timestamp()
      AND (released_at IS NULL
           OR released_at <= clock_timestamp() - make_interval(secs => :handover_s))
    ORDER BY expires_at, organization_id
    LIMIT :claim_limit
    FOR UPDATE SKIP LOCKED
)
UPDATE meraki.org_leases AS l
SET owner_id = :instance_id,
    egress_id = :egress_id,
    fencing = l.fencing + 1,
    acquired_at = clock_timestamp(),
    renewed_at = clock_timestamp(),
    expires_at = clock_timestamp() + make_interval(secs => :ttl_s),
    released_at = NULL,
    takeovers = l.takeovers + CASE WHEN c.takeover THEN 1 ELSE 0 END
FROM candidates AS c
WHERE l.organization_id = c.organization_id
RETURNING l.organization_id, l.fencing, c.takeover;

-- name: lease_release
UPDATE meraki.org_leases
SET expires_at = clock_timestamp(), released_at = clock_timestamp()
WHERE organization_id = ANY(:organization_ids::text[])
  AND owner_id = :instance_id
  AND expires_at > clock_timestamp();

-- name: lease_holders
-- Orgs another instance holds now, with who holds them: a running service (balances) is
-- asked to sync them, anything else named in a refusal.
SELECT l.organization_id, l.owner_id, i.host, i.pid, coalesce(i.balances, false) AS balances
FROM meraki.org_leases AS l
LEFT JOIN meraki.sync_instances AS i ON i.instance_id = l.owner_id
WHERE l.organization_id = ANY(:organization_ids::text[])
  AND l.owner_id IS DISTINCT FROM :instance_id
  AND l.expires_at > clock_timestamp()
ORDER BY l.organization_id;

-- name: lease_fence_timeout
-- A writer frozen inside its transaction (stopped VM, network split) must not keep the lease
-- row locked forever: the server ends the transaction once it sits idle this long.
SELECT set_config('idle_in_transaction_session_timeout', :timeout_ms, true);

-- name: lease_fence_check
-- Inside the writing transaction: FOR SHARE makes a takeover (an UPDATE of this row) wait
-- until the write has committed or rolled back, so no write lands after a takeover.
SELECT fencing
FROM meraki.org_leases
WHERE organization_id = :organization_id
  AND owner_id = :instance_id
  AND fencing = :fencing
  AND expires_at > clock_timestamp()
FOR SHARE;

-- name: lease_ownerless
-- Orgs among these whose lease ran out (expired or released) over :ttl_s ago and that nobody
-- claimed since: no instance syncs them. Never-held rows ('-infinity') are claimed at once.
SELECT count(*)::int
FROM meraki.org_leases
WHERE organization_id = ANY(:organization_ids::text[])
  AND expires_at > '-infinity'::timestamptz
  AND expires_at < clock_timestamp() - make_interval(secs => :ttl_s);
