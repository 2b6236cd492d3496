"""meraki-sync: keeps PostgreSQL in step with a Cisco Meraki Dashboard estate."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("meraki-sync")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
