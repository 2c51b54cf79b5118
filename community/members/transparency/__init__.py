"""'Who looked at my RSVPs': a member's view of the audit trail about them."""
