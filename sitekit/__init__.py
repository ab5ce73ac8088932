"""Site tooling: what builds and checks the site, never installed with the `starter` package.

`sitekit.catalog` is the typed schema over `docs/data/*.yaml`; `docs/hooks/*.py` are the mkdocs
entry points. The site may import the package (`starter`); the package never imports this.
"""
