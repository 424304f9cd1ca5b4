"""Input media: resolving URLs (http(s), data:, oss://) into local files, and probing them against the limits."""
