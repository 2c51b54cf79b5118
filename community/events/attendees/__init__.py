"""Attendee lists, approvals, messages, tickets and check-in (organisers only)."""
