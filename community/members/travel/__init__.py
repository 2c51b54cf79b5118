"""Travel mode: one switch that makes a member's own screens look like a new account's."""
