"""Routes: which requests go where."""
