"""The web pages of Leerlingbus (docs/web.md): a process of its own that renders HTML
for people and reaches the system only through the gateway's HTTP API."""
