"""The write side: the only code that writes Postgres. One transaction per command."""
