"""One module per `mi-starter` sub-command: each exposes `configure(parser)` and `main(args) -> int`."""
