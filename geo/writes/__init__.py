"""Write paths of the store (issue #5): each function works in the caller's transaction."""
