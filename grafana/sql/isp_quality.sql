-- ISP quality per customer and uplink: loss and latency from meraki.customer_uplink_samples.

-- name: network_variable
SELECT network_id AS __value, coalesce(network_name, network_id) AS __text
FROM meraki.customer_networks
WHERE customer_id IN ($customer)
ORDER BY 2;

-- name: isp_latency_by_uplink
SELECT $__timeGroupAlias(s.ts, $__interval),
       coalesce(d.name, s.serial) || ' ' || s.uplink AS metric,
       round(avg(s.latency_ms)::numeric, 1) AS latency_ms
FROM meraki.customer_uplink_samples s
LEFT JOIN meraki.devices d ON d.serial = s.serial
WHERE $__timeFilter(s.ts) AND s.customer_id IN ($customer) AND s.network_id IN ($network)
  AND s.uplink IN ($uplink)
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: isp_loss_by_uplink
SELECT $__timeGroupAlias(s.ts, $__interval),
       coalesce(d.name, s.serial) || ' ' || s.uplink AS metric,
       round(avg(s.loss_percent)::numeric, 2) AS loss_percent
FROM meraki.customer_uplink_samples s
LEFT JOIN meraki.devices d ON d.serial = s.serial
WHERE $__timeFilter(s.ts) AND s.customer_id IN ($customer) AND s.network_id IN ($network)
  AND s.uplink IN ($uplink)
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: isp_latency_by_customer
SELECT $__timeGroupAlias(s.ts, $__interval), s.customer_name AS metric,
       round(avg(s.latency_ms)::numeric, 1) AS latency_ms
FROM meraki.customer_uplink_samples s
WHERE $__timeFilter(s.ts) AND s.customer_id IN ($customer) AND s.network_id IN ($network)
  AND s.uplink IN ($uplink)
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: isp_loss_by_customer
SELECT $__timeGroupAlias(s.ts, $__interval), s.customer_name AS metric,
       round(avg(s.loss_percent)::numeric, 2) AS loss_percent
FROM meraki.customer_uplink_samples s
WHERE $__timeFilter(s.ts) AND s.customer_id IN ($customer) AND s.network_id IN ($network)
  AND s.uplink IN ($uplink)
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: isp_uplink_summary
-- A wired uplink's ISP is named by its public IP (Meraki names only cellular carriers).
SELECT s.customer_name, n.name AS network_name, coalesce(d.name, s.serial) AS device,
       s.uplink, coalesce(u.provider, u.public_ip) AS isp,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s.latency_ms)::numeric, 1)
           AS latency_p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY s.latency_ms)::numeric, 1)
           AS latency_p95_ms,
       round(avg(s.loss_percent)::numeric, 2) AS loss_avg_pct,
       count(DISTINCT s.ts) FILTER (WHERE s.loss_percent >= 100) AS minutes_down,
       count(*) AS samples
FROM meraki.customer_uplink_samples s
LEFT JOIN meraki.devices d ON d.serial = s.serial
LEFT JOIN meraki.networks n ON n.id = s.network_id
LEFT JOIN meraki.uplink_statuses u ON u.serial = s.serial AND u.interface = s.uplink
WHERE $__timeFilter(s.ts) AND s.customer_id IN ($customer) AND s.network_id IN ($network)
  AND s.uplink IN ($uplink)
GROUP BY s.customer_name, n.name, coalesce(d.name, s.serial), s.uplink,
         coalesce(u.provider, u.public_ip)
ORDER BY latency_p95_ms DESC NULLS LAST, loss_avg_pct DESC NULLS LAST
LIMIT 200;
