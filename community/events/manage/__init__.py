"""Organisers' event pages: create, edit, publish, cancel, duplicate, series."""
