"""Shared basics: settings, errors, logging, metrics and the customer-mapping file format."""
