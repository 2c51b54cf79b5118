"""Organisers' hub pages: members, roles, notes and the hub's audit trail."""
