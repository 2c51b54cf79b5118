"""Vouched admission: members vouch for people asking to join before organisers may approve."""
