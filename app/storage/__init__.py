"""Object storage: the ObjectStore interface, its S3 implementation and an in-memory fake."""
