"""One module per desk area; each adds its routes to ``hashedge.web.desk.bp``."""
