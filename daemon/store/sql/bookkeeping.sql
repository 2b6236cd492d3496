-- name: record_run
INSERT INTO meraki.sync_runs
    (organization_id, dataset, started_at, finished_at, rows, rejected_rows, requests,
     rate_limited, outcome, error, request_id)
VALUES (:organization_id, :dataset, :started_at, :finished_at, :rows, :rejected_rows, :requests,
        :rate_limited, :outcome, :error, :request_id);

-- name: migration_lock
SELECT pg_advisory_xact_lock(hashtext('meraki-sync migrate'));

-- name: schema_exists
SELECT to_regclass('meraki.schema_version') IS NOT NULL;

-- name: schema_version
SELECT max(version) FROM meraki.schema_version;

-- name: ping
SELECT 1;
