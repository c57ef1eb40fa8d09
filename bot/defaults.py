"""Default limits and addresses, with their reasons: shared by Settings and DefaultSettings.

Every one of them is overridable from the environment (bot/settings.py names the variables).
"""

from __future__ import annotations

MAX_READ_BYTES = 512 * 1024**2  # a metadata walk reads < 1 % of a file; 512 MB bounds a download fallback
MAX_WALL_SECONDS = 60.0  # Slack users wait; a healthy 5 GB remote inspection takes ~1 s
MAX_REQUESTS = 1000  # range requests per inspection (remote-reads.md §9.2 budget ceiling)
PARSER_MEMORY_BYTES = 1024 * 1024**2  # address-space cap of a parser child (h5py + numpy need ~300 MB)
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_FILE_HOSTS = ("files.slack.com",)
DEFAULT_PORT = 3000
