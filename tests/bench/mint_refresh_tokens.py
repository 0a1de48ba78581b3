#!/usr/bin/env python3
"""Pre-mints refresh tokens for the jwt/refresh benchmark.

Each token gets its own session and refresh_tokens row (what a login would have written) and is
signed exactly as Latchkey signs: HS256 with the key SHA-256("latchkey:jwt-signing-key:" +
secret). Logging in N times instead would cost N argon2 hashes.

usage: mint_refresh_tokens.py <sqlite file> <secret> <user id> <count> <tokens out> [issuer]

The issuer (`iss` and `aud`) is the server's public_url, http://localhost:8000 by default.
"""
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import sys
import time


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    db_path, secret, user_id, count, out_path = sys.argv[1:6]
    issuer = sys.argv[6] if len(sys.argv) > 6 else "http://localhost:8000"
    user_id, count = int(user_id), int(count)
    key = hashlib.sha256(b"latchkey:jwt-signing-key:" + secret.encode()).digest()
    header = b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    now = int(time.time())
    issued = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
    expires = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now + 86400))
    sessions, tokens, lines = [], [], []
    for _ in range(count):
        sid, jti = os.urandom(16).hex(), os.urandom(16).hex()
        claims = {"token_type": "refresh", "exp": now + 86400, "iat": now, "jti": jti,
                  "user_id": user_id, "sid": sid, "aud": issuer, "iss": issuer}
        payload = b64(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = b64(hmac.new(key, signing_input, hashlib.sha256).digest())
        lines.append(f"{header}.{payload}.{signature}")
        sessions.append((sid, user_id, "api", issued, issued, expires))
        tokens.append((jti, sid, user_id, issued, expires))
    conn = sqlite3.connect(db_path, timeout=30)
    with conn:
        conn.executemany(
            "INSERT INTO sessions (id, user_id, kind, created_at, last_seen_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", sessions)
        conn.executemany(
            "INSERT INTO refresh_tokens (jti, session_id, user_id, issued_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)", tokens)
    conn.close()
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
