"""Watching the prompt tree: filesystem events, debouncing, the upload journal, the watch daemon."""
