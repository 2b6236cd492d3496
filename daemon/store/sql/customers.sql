-- name: customer_map_lock
-- Serializes map writers (import, set, unset) while leaving the table readable.
LOCK TABLE meraki.customer_map IN SHARE ROW EXCLUSIVE MODE;

-- name: customer_map_all
SELECT organization_id, network_id, customer_id, customer_name
FROM meraki.customer_map
ORDER BY customer_id, organization_id, network_id;

-- name: customer_map_get
SELECT customer_id, customer_name
FROM meraki.customer_map
WHERE organization_id = :organization_id AND network_id = :network_id;

-- name: customer_map_known_networks
SELECT id, organization_id, removed_at IS NOT NULL AS removed
FROM meraki.networks
WHERE id = ANY(:network_ids::text[]);

-- name: customer_map_set
INSERT INTO meraki.customer_map (organization_id, network_id, customer_id, customer_name, mapped_at)
VALUES (:organization_id, :network_id, :customer_id, :customer_name, now())
ON CONFLICT (organization_id, network_id) DO UPDATE SET
    customer_id = EXCLUDED.customer_id,
    customer_name = EXCLUDED.customer_name,
    mapped_at = EXCLUDED.mapped_at;

-- name: customer_map_set_many
-- Rows that would not change are left alone, mapped_at included.
INSERT INTO meraki.customer_map AS m
    (organization_id, network_id, customer_id, customer_name, mapped_at)
SELECT f.organization_id, f.network_id, f.customer_id, f.customer_name, now()
FROM unnest(:organization_ids::text[], :network_ids::text[], :customer_ids::text[],
            :customer_names::text[])
     AS f (organization_id, network_id, customer_id, customer_name)
ON CONFLICT (organization_id, network_id) DO UPDATE SET
    customer_id = EXCLUDED.customer_id,
    customer_name = EXCLUDED.customer_name,
    mapped_at = EXCLUDED.mapped_at
WHERE (m.customer_id, m.customer_name)
      IS DISTINCT FROM (EXCLUDED.customer_id, EXCLUDED.customer_name);

-- name: customer_map_delete
DELETE FROM meraki.customer_map
WHERE organization_id = :organization_id AND network_id = :network_id
RETURNING customer_id;

-- name: customer_map_delete_many
DELETE FROM meraki.customer_map m
USING unnest(:organization_ids::text[], :network_ids::text[]) AS f (organization_id, network_id)
WHERE m.organization_id = f.organization_id AND m.network_id = f.network_id;

-- name: customer_map_list
-- Every mapping; names and device counts from customer_networks when the network is live
-- under the mapped org, else `state` says why not.
SELECT m.customer_id, m.customer_name, m.organization_id,
       coalesce(cn.organization_name, o.name) AS organization_name,
       m.network_id, coalesce(cn.network_name, n.name) AS network_name, cn.device_count,
       CASE
           WHEN cn.network_id IS NOT NULL THEN 'live'
           WHEN n.id IS NULL THEN 'not synced'
           WHEN n.organization_id <> m.organization_id THEN 'other organization'
           ELSE 'removed'
       END AS state
FROM meraki.customer_map m
LEFT JOIN meraki.customer_networks cn
       ON cn.organization_id = m.organization_id AND cn.network_id = m.network_id
LEFT JOIN meraki.networks n ON n.id = m.network_id
LEFT JOIN meraki.organizations o ON o.id = m.organization_id
WHERE :customer_id::text IS NULL OR m.customer_id = :customer_id
ORDER BY m.customer_id, m.organization_id, m.network_id;

-- name: customer_map_unmapped
-- Live networks of live organizations that no mapping names: what is left to map.
SELECT n.organization_id, o.name AS organization_name, n.id AS network_id,
       n.name AS network_name,
       (SELECT count(*) FROM meraki.devices d
        WHERE d.network_id = n.id AND d.removed_at IS NULL) AS device_count
FROM meraki.networks n
JOIN meraki.organizations o ON o.id = n.organization_id
WHERE n.removed_at IS NULL
  AND o.removed_at IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM meraki.customer_map m
      WHERE m.organization_id = n.organization_id AND m.network_id = n.id
  )
ORDER BY n.organization_id, n.id;
