"""Files: the BlobStore port (local dir now, S3 later), signed result URLs, and temporary uploads."""
