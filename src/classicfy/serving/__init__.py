"""`classicfy serve`: an HTTP API and a web page for one trained run."""
