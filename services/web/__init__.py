"""The web pages' server side: static files, the page configuration and the admin session."""
