-- iamlink catalog, version 5: password authentication. A role's password is kept only as its
-- SCRAM-SHA-256 verifier (PostgreSQL's stored form); NULL: the role cannot log in with a password.
ALTER TABLE iamlink_internal.roles ADD COLUMN password_verifier text
  CHECK (password_verifier IS NULL OR password_verifier LIKE 'SCRAM-SHA-256$%');
