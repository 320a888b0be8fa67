"""The web app: server-rendered pages (Jinja2) and vendored JavaScript over the JSON API, nothing fetched off the machine."""
