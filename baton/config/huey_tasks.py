"""Where periodic jobs are registered (one place, so an operator sees every schedule)."""
