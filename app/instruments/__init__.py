"""The chapter's thought experiments: JSON routes, the page's panel, schemas, one registry."""
