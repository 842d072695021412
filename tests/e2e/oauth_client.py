"""The token and revocation endpoints as an OAuth 2 client library sees them: Authlib's
OAuth2Session (over requests) signs in with the password grant, refreshes, revokes, and
reads every RFC 6749 section 5.2 error as the library's own OAuthError.

Usage: BASE_URL=http://127.0.0.1:8080 EMAIL=... PASSWORD=... python3 oauth_client.py
Exit status 0 means every check passed.
"""

import os
import sys

# Authlib refuses plain HTTP unless told otherwise; the test server is on loopback.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.integrations.requests_client import OAuth2Session, OAuthError  # noqa: E402

BASE = os.environ["BASE_URL"].rstrip("/")
TOKEN_URL = f"{BASE}/api/v1/auth/token"
REVOKE_URL = f"{BASE}/api/v1/auth/revoke"
EMAIL = os.environ["EMAIL"]
PASSWORD = os.environ["PASSWORD"]

failures = []
content_types = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{f' ({detail})' if detail else ''}")
    if not ok:
        failures.append(name)


def session():
    client = OAuth2Session(client_id="switchboard-e2e", token_endpoint_auth_method="none")

    def record(resp):
        content_types.append((resp.status_code, resp.headers.get("content-type", "")))
        return resp

    client.register_compliance_hook("access_token_response", record)
    client.register_compliance_hook("refresh_token_response", record)
    return client


def error_of(call):
    """The OAuthError the library raised, or None."""
    try:
        call()
    except OAuthError as err:
        return err
    return None


# A successful sign-in: the library accepts and stores the token.
client = session()
token = client.fetch_token(TOKEN_URL, grant_type="password", username=EMAIL, password=PASSWORD)
check("password grant gives a bearer token", token.get("token_type", "").lower() == "bearer", token.get("token_type"))
check("with an expiry", isinstance(token.get("expires_in"), int) and token.get("expires_at"))
check("and a refresh token", bool(token.get("refresh_token")))

# The library authorises requests with it.
me = client.get(f"{BASE}/api/v1/users/me")
check("the token authorises an API call", me.status_code == 200 and me.json().get("email") == EMAIL, me.status_code)

# Refresh: a new pair, the old refresh token rotated out.
old_refresh = token["refresh_token"]
renewed = client.refresh_token(TOKEN_URL, refresh_token=old_refresh)
check("refresh_token grant renews", bool(renewed.get("access_token")) and renewed["refresh_token"] != old_refresh)

# Errors, each parsed by the library into error and error_description.
cases = [
    (
        "wrong password is invalid_grant",
        "invalid_grant",
        lambda: session().fetch_token(TOKEN_URL, grant_type="password", username=EMAIL, password="not the password"),
    ),
    (
        "unknown user is invalid_grant",
        "invalid_grant",
        lambda: session().fetch_token(TOKEN_URL, grant_type="password", username="nobody@example.com", password="whatever pw"),
    ),
    (
        "client_credentials is unsupported_grant_type",
        "unsupported_grant_type",
        lambda: session().fetch_token(TOKEN_URL, grant_type="client_credentials"),
    ),
    (
        "a missing password is invalid_request",
        "invalid_request",
        lambda: session().fetch_token(TOKEN_URL, grant_type="password", username=EMAIL, password=""),
    ),
    (
        "an unknown refresh token is invalid_grant",
        "invalid_grant",
        lambda: session().refresh_token(TOKEN_URL, refresh_token="not-a-refresh-token"),
    ),
]
for name, expected, call in cases:
    err = error_of(call)
    check(name, err is not None and err.error == expected, err and f"{err.error}: {err.description}")
    check(f"{name}: with a description", err is not None and bool(err.description))

# Revocation (RFC 7009): the library's call succeeds, and the revoked token is refused.
current_refresh = renewed["refresh_token"]
revoked = client.revoke_token(REVOKE_URL, token=current_refresh, token_type_hint="refresh_token")
check("revoke_token answers 200", revoked.status_code == 200, revoked.status_code)
err = error_of(lambda: session().refresh_token(TOKEN_URL, refresh_token=current_refresh))
check("a revoked refresh token is invalid_grant", err is not None and err.error == "invalid_grant", err and err.error)

# Every token endpoint answer, success or error, is application/json (RFC 6749 5.1, 5.2).
wrong = [(status, ct) for status, ct in content_types if not ct.startswith("application/json")]
check(f"all {len(content_types)} token responses are application/json", not wrong and len(content_types) >= 7, wrong)

if failures:
    print(f"{len(failures)} check(s) failed: {'; '.join(failures)}", file=sys.stderr)
    sys.exit(1)
print("all OAuth client checks passed")
