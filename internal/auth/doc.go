// Package auth issues, stores and checks the bearer tokens that every call
// to eddy's HTTP API must carry.
//
// A token is "eddy_" followed by the unpadded base64url encoding of 32
// random bytes. eddy never stores a token itself, only its SHA-256, so
// reading the data dir does not reveal a usable token.
//
// # On-disk layout
//
// <dir>/tokens.json, mode 0600, replaced atomically on every change:
//
//	{
//	  "version": 1,
//	  "tokens": [
//	    {
//	      "name": "admin",                  // unique, [A-Za-z0-9._-], 1..64 bytes
//	      "role": "admin",                  // see Role
//	      "created": "2025-01-02T03:04:05Z", // RFC 3339, UTC
//	      "sha256": "9f86d0…"                // hex SHA-256 of the full token text
//	    }
//	  ]
//	}
//
// The admin token created on first start is also written in plain text to
// the file given to Store.EnsureAdmin (by convention <data-dir>/admin.token,
// mode 0600), so the local CLI can find it without being told.
//
// A Store is owned by one process: it reads tokens.json once in Open, and
// changes made by another process are not seen until the next Open.
package auth
