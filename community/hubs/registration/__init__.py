"""Registering a hub and the chapter coordinators' decisions on it."""
