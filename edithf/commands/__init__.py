"""One module per command-line verb; each has add_arguments(parser) and run(args)."""
