"""meraki-sync's Grafana pack: dashboards built with grafana-foundation-sdk, the provisioning
that loads them, and the checks that hold them to the schema, the database and the metrics.

`python -m grafana.build` writes grafana/dashboards/*.json from the modules here; the JSON is
committed so Grafana can load it without Python.
"""
