"""Invite links to invite-only events."""
