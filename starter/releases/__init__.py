"""Public releases of real reasoning-model data: fetched with checksums, read into typed records.

Nothing third-party is committed: `mi-starter data fetch NAME` downloads a release at a pinned
revision into the cache, and every reader also takes a local folder.
"""
