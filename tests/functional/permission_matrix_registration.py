"""Permission matrix entries for hub registration decisions (merged into
test_permission_matrix.MATRIX).

The world's hubs are active, so nobody may decide on their registration:
signed-in roles get 404 (before any two-factor prompt, so staff status is not
revealed either), visitors are sent to sign in. The decisions on a pending hub
are covered in test_hub_registration.py.
"""

LOGIN = "login"
NOBODY = [LOGIN, 404, 404, 404, 404, 404, 404, 404, 404]

MATRIX = {
    ("POST", "/hubs/<slug>/registration/approve"): {"listed": NOBODY, "unlisted": NOBODY},
    ("POST", "/hubs/<slug>/registration/decline"): {"listed": NOBODY, "unlisted": NOBODY},
}
