"""Reports and audit trails for a hub's or a chapter's own moderators."""
