"""The API-key fetch of one prompt version, answered in front of Flask when it can be."""
