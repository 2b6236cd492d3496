"""Benchmarks of meraki-sync: rate efficiency, API economy, ingest, footprint and the SDK peer.

Run `python -m bench all` (see bench/README.md). Nothing here is imported by the daemon.
"""
