"""Consumer-side asset cache: local copies of S3 artifacts, revalidated, pinned by manifests."""
