"""The limits of an event's fields: one set for the form and for the rules."""

import re

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
VENUE_MAX = 200
ADDRESS_MAX = 500
ONLINE_URL_MAX = 500
CAPACITY_MAX = 100_000
MAX_GUESTS_MAX = 20
REVEAL_HOURS_MAX = 168
CANCEL_MESSAGE_MAX = 1000
LANGUAGES_MAX = 100  # the column's length, tags joined by spaces
OTHER_LANGUAGES_MAX = 10
# Events are planned in this century; the bounds also keep every zone's
# conversion to UTC clear of datetime's limits.
YEAR_MIN, YEAR_MAX = 2000, 2100

# A BCP 47 language tag (RFC 5646): language, optional extended language,
# script, region and variants; no extensions or private use.
LANGUAGE_TAG = re.compile(
    r"[A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?"
    r"(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*\Z"
)
