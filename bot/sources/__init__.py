"""Sources: turn a user's reference (path, URL, s3 key, Slack file) into bytes to read.

`resolve(reference, settings)` vets the reference (roots, SSRF guard) and returns a
`Source`; its `identity()` is cheap (a stat, a HEAD) and keys the cache, and `artifact()`
opens the bytes for the analysis.  See base.py for the seam.
"""
