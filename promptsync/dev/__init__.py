"""The one-command local stack behind `promptsync dev`."""
