"""Services: the Assistants API operations, over the Store port, free of HTTP."""
