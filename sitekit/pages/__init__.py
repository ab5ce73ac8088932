"""The site's page generators, split by job; docs/hooks/*.py are their thin mkdocs entry points.

- `events`: the mkdocs events (load the catalogs, add the generated pages, the nav, the notes);
- `render`: the pages themselves, rendered from the catalogs and the committed results;
- `i18n`: the Chinese edition (the words per language, what mkdocs-static-i18n sets on a page);
- `notebooks`: every starter published as a Jupyter notebook with its install cell.
"""
