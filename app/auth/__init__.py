"""Users, roles, logins: argon2 passwords, bearer tokens for the API, session cookies for the pages."""
