"""The long-running service: lifecycle, probes, systemd notification, parts built from settings."""
