"""Shop analytics: daily rollups of the event log, the dashboard and its JSON/CSV API."""
