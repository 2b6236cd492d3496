-- Secure Access (SASE) sites: status now, the connectivity history over the time range, and
-- site availability.

-- name: sase_by_status
SELECT status, count(*) AS sites
FROM meraki.customer_sase_sites
WHERE customer_id IN ($customer)
GROUP BY status
ORDER BY sites DESC, status;

-- name: sase_not_good
SELECT customer_name, network_name, name AS site, status, status_since, region,
       primary_device_name, spare_device_name
FROM meraki.customer_sase_sites
WHERE status <> 'good' AND customer_id IN ($customer)
ORDER BY status_since, customer_name, name;

-- name: sase_timeline
-- The site's status at the start of the range, then every entry inside it: 0 good,
-- 1 degraded (bad tunnel, bad NAT, many bad tunnels), 2 down (offline, no registry),
-- 3 dormant; the panel splits the rows by site.
WITH sites AS (
    SELECT site_id, format('%s (%s)', coalesce(name, site_id), customer_name) AS site
    FROM meraki.customer_sase_sites
    WHERE customer_id IN ($customer)
), entries AS (
    SELECT s.site, greatest(h.ts, $__timeFrom()::timestamptz) AS time, h.status
    FROM sites s
    CROSS JOIN LATERAL (
        SELECT h.ts, h.status FROM meraki.sase_site_status_history h
        WHERE h.site_id = s.site_id AND h.role = 'site' AND h.ts <= $__timeFrom()
        ORDER BY h.ts DESC LIMIT 1
    ) h
    UNION ALL
    SELECT s.site, h.ts, h.status
    FROM sites s
    JOIN meraki.sase_site_status_history h
      ON h.site_id = s.site_id AND h.role = 'site' AND $__timeFilter(h.ts)
)
SELECT time, site,
       CASE WHEN status = 'good' THEN 0
            WHEN status IN ('bad tunnel', 'bad NAT', 'many bad tunnels') THEN 1
            WHEN status = 'dormant' THEN 3
            ELSE 2 END AS state
FROM entries
ORDER BY time, site;

-- name: sase_history
SELECT h.ts, h.customer_name, h.network_name, h.site_name, h.role, h.status
FROM meraki.customer_sase_site_history h
WHERE $__timeFilter(h.ts) AND h.customer_id IN ($customer)
ORDER BY h.ts DESC, h.site_name, h.role
LIMIT 500;

-- name: sase_site_availability
SELECT customer_name, network_name, site_name, availability_pct, times_lost, unavailable_s,
       excluded_s, measured_from, measured_until
FROM meraki.report_sase_site_availability_by_site($__timeFrom(), $__timeTo())
WHERE customer_id IN ($customer)
ORDER BY availability_pct NULLS LAST, customer_name, site_name;

-- name: sase_customer_availability
SELECT customer_name, customer_id, sites, sites_lost, availability_pct, unavailable_s
FROM meraki.report_sase_site_availability($__timeFrom(), $__timeTo())
WHERE customer_id IN ($customer)
ORDER BY availability_pct NULLS LAST, customer_name;
