#!/usr/bin/env python3
"""Pre-mints authorization codes for the code-exchange benchmark.

Each code gets the oauth_codes row the authorization endpoint would have written (stored as
its SHA-256, bound to the client, the redirect URI and one PKCE S256 challenge), so the
benchmark measures the token endpoint alone; a browser round trip per code would measure the
login pages too.

usage: mint_codes.py <sqlite file> <client id> <user id> <redirect uri> <verifier> <count> <codes out>
"""
import base64
import hashlib
import os
import sqlite3
import sys
import time


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    db_path, client_id, user_id, redirect_uri, verifier, count, out_path = sys.argv[1:8]
    challenge = b64(hashlib.sha256(verifier.encode()).digest())
    now = int(time.time())
    issued = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
    # Far longer than the real 60 s: the run must not outlive its codes.
    expires = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now + 3600))
    rows, codes = [], []
    for _ in range(int(count)):
        code = b64(os.urandom(32))
        codes.append(code)
        code_hash = b64(hashlib.sha256(code.encode()).digest())
        rows.append((code_hash, client_id, int(user_id), redirect_uri, "openid profile email",
                     challenge, issued, issued, expires))
    conn = sqlite3.connect(db_path, timeout=30)
    with conn:
        conn.executemany(
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, scope, "
            "code_challenge, auth_time, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows)
    conn.close()
    with open(out_path, "w") as f:
        f.write("\n".join(codes) + "\n")


if __name__ == "__main__":
    main()
