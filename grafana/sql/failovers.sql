-- Failover timeline: episodes of a backup uplink carrying traffic (meraki.customer_failover_events,
-- times as meraki-sync saw them, within a minute).

-- name: failover_timeline
-- One row per change of a device's state: 0 on its primary uplink, 1 on a wired backup
-- (wan2/wan3), 2 on cellular; the panel splits the rows by device.
WITH episodes AS (
    SELECT format('%s (%s)', coalesce(f.device_name, f.serial),
                  coalesce(f.network_name, f.network_id)) AS device,
           f.interface, f.started_at, f.ended_at
    FROM meraki.customer_failover_events f
    WHERE f.customer_id IN ($customer)
      AND f.started_at < $__timeTo() AND coalesce(f.ended_at, now()) > $__timeFrom()
)
SELECT time, device, state
FROM (
    SELECT greatest(started_at, $__timeFrom()::timestamptz) AS time, device,
           CASE WHEN interface = 'cellular' THEN 2 ELSE 1 END AS state
    FROM episodes
    UNION ALL
    SELECT ended_at, device, 0
    FROM episodes
    WHERE ended_at < $__timeTo()
) changes
ORDER BY time, device;

-- name: failovers_started
SELECT $__timeGroupAlias(started_at, $__interval), customer_name AS metric, count(*) AS failovers
FROM meraki.customer_failover_events
WHERE $__timeFilter(started_at) AND customer_id IN ($customer)
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: failover_events
SELECT customer_name, network_name, coalesce(device_name, serial) AS device, model, interface,
       started_at, ended_at, ongoing, extract(epoch FROM date_trunc('second', duration)) AS duration_s
FROM meraki.customer_failover_events
WHERE customer_id IN ($customer)
  AND started_at < $__timeTo() AND coalesce(ended_at, now()) > $__timeFrom()
ORDER BY started_at DESC
LIMIT 500;

-- name: failover_report
SELECT customer_name, customer_id, failovers, cellular_failovers, devices_failed_over,
       cellular_s, backup_s
FROM meraki.report_failovers($__timeFrom(), $__timeTo())
WHERE customer_id IN ($customer)
ORDER BY failovers DESC, backup_s DESC, customer_name;

-- name: on_cellular_now
SELECT customer_name, network_name, coalesce(device_name, serial) AS device, model, started_at,
       extract(epoch FROM date_trunc('second', duration)) AS duration_s
FROM meraki.customer_failover_events
WHERE ongoing AND interface = 'cellular' AND customer_id IN ($customer)
ORDER BY started_at;
