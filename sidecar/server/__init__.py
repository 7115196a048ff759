"""The stdio server: loop, dispatch, built-in methods."""
