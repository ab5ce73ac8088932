"""Public releases of real reasoning-model data: fetched with checksums, read into typed records.

Nothing third-party is committed: `mi-starter data fetch NAME` downloads a release at a pinned
revision into the cache, and every reader also takes a local folder.

    registry.py          releases.yaml (package data): each release's address, revision, licence,
                         what the kit reads, and its files with size and sha256
    fetch.py             fetch_release / local_copy: download into the cache, every file checked
    thought_anchors.py   read_chains: Thought Anchors' 40 labelled R1-distill chains
    thought_branches.py  read_cued_chains: Thought Branches' cued MMLU chains
    (starter.rollouts_dataset reads the math-rollouts layout)
"""
