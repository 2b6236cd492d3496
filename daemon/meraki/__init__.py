"""Everything that speaks to the Meraki Dashboard API: buckets, retries, redirects, pages."""
