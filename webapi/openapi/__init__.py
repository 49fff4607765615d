"""The OpenAPI description of the API and its offline /docs page."""
