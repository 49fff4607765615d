"""What the API and the admin do, apart from requests: versions, labels, pushes, accounts."""
