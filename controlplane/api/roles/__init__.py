"""Roles: named sets of permissions that tokens grant their holders."""
