"""Suite-wide settings: nothing in the tests may reach the internet or the user's own caches."""

import os
import tempfile

# Set before any test module imports starter.* or transformers.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MI_STARTER_CACHE", tempfile.mkdtemp(prefix="mi-starter-test-cache-"))
os.environ.setdefault("MPLBACKEND", "Agg")
