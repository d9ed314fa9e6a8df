"""Reports rendered from the case store."""
