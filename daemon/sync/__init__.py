"""What to sync and how: dataset definitions, one run of a dataset, a full pass."""
