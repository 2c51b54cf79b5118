"""Door staff: members an organiser trusts to check tickets at one event, until it ends."""
