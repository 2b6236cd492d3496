-- What `meraki-sync status` shows, from the database alone. Every time is the database's clock.

-- name: status_instances
-- Live instances (heartbeat within the lease TTL, not stopped). requests_per_s: requests of the
-- runs that ended in the last minute for the orgs the instance holds now, per second.
SELECT i.instance_id, i.egress_id, i.host, i.pid, i.balances,
       extract(epoch FROM clock_timestamp() - i.started_at)::float8 AS up_s,
       extract(epoch FROM clock_timestamp() - i.heartbeat_at)::float8 AS heartbeat_age_s,
       (SELECT count(*) FROM meraki.org_leases l
        WHERE l.owner_id = i.instance_id AND l.expires_at > clock_timestamp())::int AS orgs_held,
       (SELECT coalesce(sum(r.requests), 0)
        FROM meraki.org_leases l
        JOIN meraki.sync_runs r ON r.organization_id = l.organization_id
        WHERE l.owner_id = i.instance_id AND l.expires_at > clock_timestamp()
          AND r.finished_at > clock_timestamp() - interval '60 seconds')::float8 / 60
           AS requests_per_s
FROM meraki.sync_instances i
WHERE i.stopped_at IS NULL AND i.heartbeat_at > clock_timestamp() - make_interval(secs => :ttl_s)
ORDER BY i.instance_id;

-- name: status_organizations
-- Every live organization with API access: its lease (owner only while unexpired) and, per
-- dataset, the seconds since its last run that was ok or skipped (a skip is an answer: the
-- org lacks the feature), one index probe per org and dataset.
SELECT o.id AS organization_id, o.name,
       CASE WHEN l.expires_at > clock_timestamp() THEN l.owner_id END AS owner_id,
       CASE WHEN l.expires_at > clock_timestamp() THEN l.egress_id END AS egress_id,
       l.fencing,
       CASE WHEN l.expires_at > clock_timestamp()
            THEN extract(epoch FROM clock_timestamp() - l.acquired_at)::float8 END AS lease_age_s,
       CASE WHEN l.expires_at <= clock_timestamp() AND l.expires_at > '-infinity'
            THEN extract(epoch FROM clock_timestamp() - l.expires_at)::float8 END AS ownerless_s,
       fresh.ages
FROM meraki.organizations o
LEFT JOIN meraki.org_leases l ON l.organization_id = o.id
LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(d.dataset, extract(epoch FROM clock_timestamp() - last.finished_at))
               FILTER (WHERE last.finished_at IS NOT NULL) AS ages
    FROM unnest(:datasets::text[]) AS d(dataset)
    LEFT JOIN LATERAL (
        SELECT r.finished_at FROM meraki.sync_runs r
        WHERE r.organization_id = o.id AND r.dataset = d.dataset AND r.outcome IN ('ok', 'skipped')
        ORDER BY r.finished_at DESC
        LIMIT 1
    ) AS last ON true
) AS fresh ON true
WHERE o.removed_at IS NULL AND o.api_enabled
ORDER BY o.id;
