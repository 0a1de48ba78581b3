"""Seeds the Django project's database as a team's live Django would hold it: users with every
password hasher Django has shipped, and prints them as JSON (id, username, password, hash
format, stored hash) for the Latchkey tests. Run with DJANGO_DATABASE set (see
djsite/settings.py).

SEED_CONFLICTS=1 adds what Django allows and Latchkey refuses: two accounts sharing an address
(in two cases), a blank address, an invalid address and an invalid username.
SEED_DUMPDATA=path also writes `manage.py dumpdata auth.user` there.
SEED_CHANGE=username changes that user's name and password (as a person would on the live
Django between two imports) instead of seeding; SEED_DEACTIVATE=username deactivates that user
(as an admin would).
SEED_TOKENS=path writes there, as JSON, what the live Django handed out before the switch:
SimpleJWT pairs of user_pbkdf2_sha256 (one of them blacklisted, as a SimpleJWT logout does),
a django-ninja-jwt-style refresh token whose user_id is a string (PyJWT, which ninja-jwt uses),
its password-reset link (with a SimpleJWT pair of the same user) and a Djoser activation link
of an inactive user."""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import get_hasher, make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)
User = get_user_model()

PASSWORD = "pässwörd ünïcode 42"
seeded = []

if os.environ.get("SEED_DEACTIVATE"):
    User.objects.filter(username=os.environ["SEED_DEACTIVATE"]).update(is_active=False)
    json.dump([], sys.stdout)
    sys.exit(0)

if os.environ.get("SEED_CHANGE"):
    user = User.objects.get(username=os.environ["SEED_CHANGE"])
    user.first_name = "Renamed"
    user.set_password("a new password set in django 7")
    user.save()
    json.dump([{"id": user.id, "username": user.username, "password": "a new password set in django 7",
                "format": "pbkdf2_sha256", "hash": user.password}], sys.stdout)
    sys.exit(0)


def add(username, stored, fmt):
    user, _ = User.objects.update_or_create(
        username=username,
        defaults={"email": f"{username}@example.com", "password": stored, "first_name": username.title()},
    )
    seeded.append({"id": user.id, "username": username, "password": PASSWORD, "format": fmt, "hash": stored})


# Django's own hashers, as make_password writes them.
for algorithm in ["pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt", "scrypt", "md5"]:
    add(f"user_{algorithm}", make_password(PASSWORD, hasher=algorithm), algorithm)
# Legacy formats older Django releases wrote (Django 5 no longer ships their hashers; their
# formulas are those of django.contrib.auth.hashers in Django 4.2).
salt = get_hasher("md5").salt()
add("user_sha1", f"sha1${salt}$" + hashlib.sha1((salt + PASSWORD).encode()).hexdigest(), "sha1")
add("user_unsalted_sha1", "sha1$$" + hashlib.sha1(PASSWORD.encode()).hexdigest(), "unsalted_sha1")
add("user_unsalted_md5", hashlib.md5(PASSWORD.encode()).hexdigest(), "unsalted_md5")
add("user_unsalted_md5_prefixed", "md5$$" + hashlib.md5(PASSWORD.encode()).hexdigest(), "unsalted_md5")
# An account made without a password.
add("user_unusable", make_password(None), "unusable")

if os.environ.get("SEED_CONFLICTS"):
    from datetime import datetime, timezone

    older = make_password(PASSWORD)
    add("dup_old", older, "pbkdf2_sha256")
    User.objects.filter(username="dup_old").update(
        email="Shared@Example.com", last_login=datetime(2024, 1, 1, tzinfo=timezone.utc)
    )
    add("dup_new", make_password(PASSWORD), "pbkdf2_sha256")
    User.objects.filter(username="dup_new").update(
        email="shared@example.com", last_login=datetime(2026, 1, 1, tzinfo=timezone.utc)
    )
    add("no_address", make_password(PASSWORD), "pbkdf2_sha256")
    User.objects.filter(username="no_address").update(email="")
    add("bad_address", make_password(PASSWORD), "pbkdf2_sha256")
    User.objects.filter(username="bad_address").update(email="not-an-address")
    add("bad name", make_password(PASSWORD), "pbkdf2_sha256")

if os.environ.get("SEED_TOKENS"):
    import jwt as pyjwt
    from django.conf import settings as django_settings
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode
    from rest_framework_simplejwt.tokens import RefreshToken

    user = User.objects.get(username="user_pbkdf2_sha256")
    live = RefreshToken.for_user(user)
    ended = RefreshToken.for_user(user)
    ended.blacklist()
    ninja = pyjwt.encode(
        {"token_type": "refresh", "exp": int(live["exp"]), "iat": int(live["iat"]),
         "jti": "ninja" + live["jti"][5:], "user_id": user.id},
        django_settings.SECRET_KEY, algorithm="HS256",
    )
    reset_user = User.objects.get(username="user_bcrypt")
    # The reset link's owner is signed in somewhere too: a reset here must end that.
    reset_pair = RefreshToken.for_user(reset_user)
    add("pending_activation", make_password(PASSWORD), "pbkdf2_sha256")
    pending = User.objects.get(username="pending_activation")
    pending.is_active = False
    pending.save()
    tokens = {
        "user_id": user.id,
        "access": str(live.access_token),
        "refresh": str(live),
        "blacklisted_refresh": str(ended),
        "ninja_refresh": ninja,
        "reset": {
            "user_id": reset_user.id,
            "uid": urlsafe_base64_encode(force_bytes(reset_user.pk)),
            "token": default_token_generator.make_token(reset_user),
            "access": str(reset_pair.access_token),
            "refresh": str(reset_pair),
        },
        "activation": {
            "user_id": pending.id,
            "uid": urlsafe_base64_encode(force_bytes(pending.pk)),
            "token": default_token_generator.make_token(pending),
        },
        "secret_key": django_settings.SECRET_KEY,
    }
    with open(os.environ["SEED_TOKENS"], "w") as out:
        json.dump(tokens, out)

if os.environ.get("SEED_DUMPDATA"):
    # With SimpleJWT's blacklist too, as `manage.py dumpdata auth.user token_blacklist` writes it.
    call_command(
        "dumpdata", "auth.user", "token_blacklist", output=os.environ["SEED_DUMPDATA"], verbosity=0
    )

json.dump(seeded, sys.stdout)
