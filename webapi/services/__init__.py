"""What the API and the admin do, apart from requests: accounts, projects, keys, events, prompt
versions, labels, pushes, the catalog, and backups. Services take plain values, never a request."""
