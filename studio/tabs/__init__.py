"""One module per tab of the studio; each has `build(ctx)` and, if it fills itself on page load, `on_load(ctx, parts)`."""
