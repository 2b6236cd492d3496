-- Customer overview: where each customer stands now, and the reports over the dashboard's
-- time range.

-- name: customer_variable
SELECT DISTINCT customer_id AS __value, coalesce(customer_name, customer_id) AS __text
FROM meraki.customer_map
ORDER BY 2;

-- name: overview_devices_offline
SELECT count(*) FILTER (WHERE status = 'offline') AS offline
FROM meraki.customer_devices
WHERE customer_id IN ($customer);

-- name: overview_failed_over
SELECT count(DISTINCT serial) AS devices
FROM meraki.customer_failover_events
WHERE ongoing AND customer_id IN ($customer);

-- name: overview_sase_not_good
SELECT count(*) FILTER (WHERE status <> 'good') AS sites
FROM meraki.customer_sase_sites
WHERE customer_id IN ($customer);

-- name: overview_availability
SELECT round(100 * sum(available_s) / nullif(sum(available_s + unavailable_s), 0), 3)
           AS availability_pct
FROM meraki.report_device_availability($__timeFrom(), $__timeTo())
WHERE customer_id IN ($customer);

-- name: overview_now
WITH customers AS (
    SELECT DISTINCT customer_id, customer_name
    FROM meraki.customer_map
    WHERE customer_id IN ($customer)
)
SELECT c.customer_name, c.customer_id,
       (SELECT count(*) FROM meraki.customer_networks n
        WHERE n.customer_id = c.customer_id) AS networks,
       (SELECT count(*) FROM meraki.customer_devices d
        WHERE d.customer_id = c.customer_id) AS devices,
       (SELECT count(*) FROM meraki.customer_devices d
        WHERE d.customer_id = c.customer_id AND d.status = 'offline') AS offline_now,
       (SELECT count(DISTINCT f.serial) FROM meraki.customer_failover_events f
        WHERE f.customer_id = c.customer_id AND f.ongoing) AS failed_over_now,
       (SELECT count(*) FROM meraki.customer_sase_sites s
        WHERE s.customer_id = c.customer_id AND s.status <> 'good') AS sase_not_good_now
FROM customers c
ORDER BY offline_now DESC, failed_over_now DESC, c.customer_name;

-- name: overview_device_availability
SELECT customer_name, customer_id, devices, devices_with_downtime, availability_pct,
       unavailable_s, excluded_s
FROM meraki.report_device_availability($__timeFrom(), $__timeTo())
WHERE customer_id IN ($customer)
ORDER BY availability_pct NULLS LAST, customer_name;

-- name: overview_failovers
SELECT customer_name, customer_id, failovers, cellular_failovers, devices_failed_over,
       cellular_s, backup_s
FROM meraki.report_failovers($__timeFrom(), $__timeTo())
WHERE customer_id IN ($customer)
ORDER BY failovers DESC, backup_s DESC, customer_name;

-- name: overview_sase_availability
SELECT customer_name, customer_id, sites, sites_lost, availability_pct, unavailable_s
FROM meraki.report_sase_site_availability($__timeFrom(), $__timeTo())
WHERE customer_id IN ($customer)
ORDER BY availability_pct NULLS LAST, customer_name;

-- name: overview_weak_devices
SELECT customer_name, network_name, device_name, serial, model, availability_pct,
       unavailable_s, transitions
FROM meraki.report_device_availability_by_device($__timeFrom(), $__timeTo())
WHERE customer_id IN ($customer) AND availability_pct < 100
ORDER BY availability_pct, customer_name, device_name
LIMIT 50;
