"""Store and staff dashboards: rollups kept by a bus consumer, read in one request."""
