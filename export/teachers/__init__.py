"""Teachers for `vla-lite distill` beyond the project's own checkpoints and the scripted expert."""
