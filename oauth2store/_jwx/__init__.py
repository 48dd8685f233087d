"""Private JOSE: the JWA table (RFC 7518), JWKs (RFC 7517, 7638), compact JWS (RFC 7515) and JWT checks (RFC 7519).

Protocol code on plain values: nothing here knows the ORM. Import the modules (`from oauth2store._jwx import jws`).
"""
