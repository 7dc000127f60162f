"""Every SQL statement of the store, one module per domain.

Write functions bump the store revision in the caller's transaction, so a committed change is
always visible to pollers as a new revision, and a rolled-back one never is.
"""
