"""/train: SGD on a data set, streamed to the page; its routes, training store, schemas and the `train` command."""
